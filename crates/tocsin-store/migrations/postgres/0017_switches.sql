-- Switches people turn on and off: maintenance mode of a service, and an agent told to
-- pause. One row a time it was on; ending it stamps the row, which is kept. At most one is
-- on for a subject at a time. Each change is also an entry of the audit chain.
CREATE TABLE switches (
    id BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    incident    BIGINT,
    started_by  TEXT NOT NULL,
    started_ms  BIGINT NOT NULL,
    until_ms    BIGINT,
    ended_by    TEXT,
    ended_ms    BIGINT
);
CREATE UNIQUE INDEX switches_on ON switches (kind, subject) WHERE ended_ms IS NULL;
