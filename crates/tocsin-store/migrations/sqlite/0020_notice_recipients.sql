-- Who an incident's notices are emailed to (customers, data subjects), in the order they
-- were added. A notice goes to those added before it was sent; the audit chain records
-- each addition by its count and digest, not the addresses.
CREATE TABLE notice_recipients (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident    BIGINT NOT NULL,
    email       TEXT NOT NULL,
    name        TEXT,
    added_ms    BIGINT NOT NULL
);
CREATE UNIQUE INDEX notice_recipients_once ON notice_recipients (incident, email);
