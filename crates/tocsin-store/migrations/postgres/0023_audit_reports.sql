-- The daily security audit's reports: each whole, as the JSON document the API serves,
-- with what lists need beside it.
CREATE TABLE audit_reports (
    id          BIGSERIAL PRIMARY KEY,
    started_ms  BIGINT NOT NULL,
    finished_ms BIGINT NOT NULL,
    by_whom     TEXT NOT NULL,
    findings    BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX audit_reports_started ON audit_reports (started_ms);
