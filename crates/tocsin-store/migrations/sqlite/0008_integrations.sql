-- Integrations: the tools that send tocsin alerts, events and heartbeats in their own
-- formats (Alertmanager, PagerDuty-style senders, Sentry, heartbeat pushes). Each has a
-- key, stored as its SHA-256 digest, and counts of what it sent, so that a person can
-- see why an alert did or did not open an incident.

CREATE TABLE integrations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    key_hint      TEXT NOT NULL,
    -- JSON object of the kind's own settings (a heartbeat's stale_after, a Sentry
    -- webhook's client secret).
    settings      TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    removed_ms    INTEGER,
    -- Requests, the items they held that were taken, and requests refused.
    received      INTEGER NOT NULL DEFAULT 0,
    accepted      INTEGER NOT NULL DEFAULT 0,
    refused       INTEGER NOT NULL DEFAULT 0,
    last_ms       INTEGER,
    last_payload  TEXT,
    last_error_ms INTEGER,
    last_error    TEXT
);
-- One active integration per name.
CREATE UNIQUE INDEX integrations_name ON integrations (name) WHERE removed_ms IS NULL;

-- Alerts as tocsin knows them now, one row per alert (source and fingerprint), kept up
-- to date from the event log by the detectors' leader. `signal` is the signal of its
-- current episode.
CREATE TABLE alerts (
    source      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    via         TEXT NOT NULL,
    status      TEXT NOT NULL,
    summary     TEXT NOT NULL,
    severity    TEXT,
    group_key   TEXT,
    -- JSON objects.
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    starts_ms   INTEGER NOT NULL,
    -- When tocsin was told its current episode began: its signal's time.
    opened_ms   INTEGER NOT NULL,
    ends_ms     INTEGER,
    url         TEXT,
    updated_ms  INTEGER NOT NULL,
    resolved_ms INTEGER,
    -- Deliveries that told of it.
    received    INTEGER NOT NULL,
    signal      INTEGER REFERENCES signals (id),
    PRIMARY KEY (source, fingerprint)
);
CREATE INDEX alerts_open ON alerts (ends_ms) WHERE status <> 'resolved';
CREATE INDEX alerts_signal ON alerts (signal);

-- When the alert behind a signal resolved.
ALTER TABLE signals ADD COLUMN resolved_ms INTEGER;
