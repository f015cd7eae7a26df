-- Links that approve one run of an action as one person, mailed to each person the plan
-- lets approve it. Only a link's SHA-256 is kept here; using it stamps it, once.
CREATE TABLE approval_links (
    hash        TEXT PRIMARY KEY,
    incident    BIGINT NOT NULL,
    run         BIGINT NOT NULL,
    person      TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    used_ms     BIGINT
);
