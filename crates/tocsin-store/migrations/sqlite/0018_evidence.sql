-- Evidence of incidents: files, command output, notes and the events signals cite, kept by
-- their SHA-256 (one copy of each content) and never changed: what is added stays as it
-- was, and each addition is an entry of the audit chain (who, when, which hash).
CREATE TABLE evidence_contents (
    sha256   TEXT PRIMARY KEY,
    size     BIGINT NOT NULL,
    content  BLOB NOT NULL
);
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident    BIGINT NOT NULL,
    sha256      TEXT NOT NULL REFERENCES evidence_contents (sha256),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size        BIGINT NOT NULL,
    note        TEXT NOT NULL,
    added_by    TEXT NOT NULL,
    added_ms    BIGINT NOT NULL
);
CREATE INDEX evidence_of ON evidence (incident, id);
CREATE UNIQUE INDEX evidence_once ON evidence (incident, sha256, name);
CREATE TRIGGER evidence_contents_never_change BEFORE UPDATE ON evidence_contents
BEGIN
    SELECT RAISE(ABORT, 'evidence is never changed');
END;
CREATE TRIGGER evidence_contents_never_go BEFORE DELETE ON evidence_contents
BEGIN
    SELECT RAISE(ABORT, 'evidence is never changed');
END;
CREATE TRIGGER evidence_never_changes BEFORE UPDATE ON evidence
BEGIN
    SELECT RAISE(ABORT, 'evidence is never changed');
END;
CREATE TRIGGER evidence_never_goes BEFORE DELETE ON evidence
BEGIN
    SELECT RAISE(ABORT, 'evidence is never changed');
END;
