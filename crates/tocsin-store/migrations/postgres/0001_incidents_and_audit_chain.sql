-- Incidents, their clocks, and the audit chain that records every change.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('incident', 0);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    incident    BIGINT,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at_ms       BIGINT NOT NULL,
    recorded_ms BIGINT NOT NULL,
    data        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_by_incident ON audit_log (incident, seq);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_is_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

CREATE TABLE incidents (
    number        BIGINT PRIMARY KEY,
    title         TEXT NOT NULL,
    severity      TEXT NOT NULL,
    status        TEXT NOT NULL,
    owner         TEXT,
    personal_data BOOLEAN NOT NULL,
    declared_ms   BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL,
    version       BIGINT NOT NULL
);
CREATE INDEX incidents_by_status ON incidents (status, number);

CREATE TABLE clocks (
    incident    BIGINT NOT NULL REFERENCES incidents (number),
    position    BIGINT NOT NULL,
    clock       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    started_ms  BIGINT NOT NULL,
    due_ms      BIGINT,
    met_ms      BIGINT,
    breached_ms BIGINT,
    applicable  BOOLEAN NOT NULL,
    is_open     BOOLEAN NOT NULL,
    PRIMARY KEY (incident, clock)
);
CREATE INDEX clocks_open_by_due ON clocks (due_ms) WHERE is_open;
