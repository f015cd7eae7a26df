-- The plan as the database holds it: every version applied, its text and digest, who
-- applied it and when. The newest is the active plan, which every process follows
-- whatever folder it runs in. An incident's history names the digest of the plan its
-- clocks were computed under, so that they can be checked against that text.

CREATE TABLE plan_versions (
    version    INTEGER PRIMARY KEY,
    digest     TEXT NOT NULL,
    -- Where the text came from: a file's path, a preset's name, the web UI.
    source     TEXT NOT NULL,
    text       TEXT NOT NULL,
    applied_by TEXT NOT NULL,
    applied_ms INTEGER NOT NULL
);
