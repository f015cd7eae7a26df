-- Integrations: the tools that send tocsin alerts, events and heartbeats in their own
-- formats (Alertmanager, PagerDuty-style senders, Sentry, heartbeat pushes). Each has a
-- key, stored as its SHA-256 digest, and counts of what it sent, so that a person can
-- see why an alert did or did not open an incident.

CREATE TABLE integrations (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    key_hint      TEXT NOT NULL,
    -- JSON object of the kind's own settings (a heartbeat's stale_after, a Sentry
    -- webhook's client secret).
    settings      TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    removed_ms    BIGINT,
    -- Requests, the items they held that were taken, and requests refused.
    received      BIGINT NOT NULL DEFAULT 0,
    accepted      BIGINT NOT NULL DEFAULT 0,
    refused       BIGINT NOT NULL DEFAULT 0,
    last_ms       BIGINT,
    last_payload  TEXT,
    last_error_ms BIGINT,
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
    starts_ms   BIGINT NOT NULL,
    -- When tocsin was told its current episode began: its signal's time.
    opened_ms   BIGINT NOT NULL,
    ends_ms     BIGINT,
    url         TEXT,
    updated_ms  BIGINT NOT NULL,
    resolved_ms BIGINT,
    -- Deliveries that told of it.
    received    BIGINT NOT NULL,
    signal      BIGINT REFERENCES signals (id),
    PRIMARY KEY (source, fingerprint)
);
CREATE INDEX alerts_open ON alerts (ends_ms) WHERE status <> 'resolved';
CREATE INDEX alerts_signal ON alerts (signal);

-- When the alert behind a signal resolved.
ALTER TABLE signals ADD COLUMN resolved_ms BIGINT;
