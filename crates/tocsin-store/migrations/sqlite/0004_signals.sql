-- Signals: what detectors found in the event log, and what the plan's rules made of it.
-- A finding is kept once: the same detector, key and time are the same finding, so
-- replaying the log after a restart records nothing twice.

CREATE TABLE signals (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    detector    TEXT NOT NULL,
    signal_key  TEXT NOT NULL,
    found_ms    INTEGER NOT NULL,
    first_ms    INTEGER NOT NULL,
    last_ms     INTEGER NOT NULL,
    event_count INTEGER NOT NULL,
    -- JSON array of event sequence numbers.
    samples     TEXT NOT NULL,
    -- JSON array of the sources of a campaign; empty for a signal about one source.
    sources     TEXT NOT NULL,
    summary     TEXT NOT NULL,
    severity    TEXT NOT NULL,
    action      TEXT NOT NULL,
    group_key   TEXT NOT NULL,
    -- The incident it opened or joined.
    incident    INTEGER REFERENCES incidents (number),
    recorded_ms INTEGER NOT NULL,
    -- When its rule was carried out; until then it is carried out again after a restart.
    settled_ms  INTEGER,
    UNIQUE (fingerprint, found_ms)
);
CREATE INDEX signals_detector ON signals (detector, id);
CREATE INDEX signals_key ON signals (signal_key, id);
CREATE INDEX signals_group ON signals (group_key, id) WHERE incident IS NOT NULL;
CREATE INDEX signals_unsettled ON signals (id) WHERE settled_ms IS NULL;
