-- Incidents, their clocks, and the audit chain that records every change.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('incident', 0);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    incident    INTEGER,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    recorded_ms INTEGER NOT NULL,
    data        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_by_incident ON audit_log (incident, seq);

CREATE TRIGGER audit_log_is_append_only_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_is_append_only_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TABLE incidents (
    number        INTEGER PRIMARY KEY,
    title         TEXT NOT NULL,
    severity      TEXT NOT NULL,
    status        TEXT NOT NULL,
    owner         TEXT,
    personal_data BOOLEAN NOT NULL,
    declared_ms   INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL,
    version       INTEGER NOT NULL
);
CREATE INDEX incidents_by_status ON incidents (status, number);

CREATE TABLE clocks (
    incident    INTEGER NOT NULL REFERENCES incidents (number),
    position    INTEGER NOT NULL,
    clock       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    due_ms      INTEGER,
    met_ms      INTEGER,
    breached_ms INTEGER,
    applicable  BOOLEAN NOT NULL,
    is_open     BOOLEAN NOT NULL,
    PRIMARY KEY (incident, clock)
);
CREATE INDEX clocks_open_by_due ON clocks (due_ms) WHERE is_open;
