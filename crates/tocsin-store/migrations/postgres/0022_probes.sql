-- Where each of the plan's probes stands, and its last run: written by the probes' worker
-- in batches, read by the API, the web page and the CLI.
CREATE TABLE probe_status (
    probe           TEXT PRIMARY KEY,
    up              BOOLEAN NOT NULL,
    since_ms        BIGINT,
    fails           BIGINT NOT NULL,
    oks             BIGINT NOT NULL,
    last_ms         BIGINT NOT NULL,
    last_ok         BOOLEAN NOT NULL,
    last_latency_ms BIGINT NOT NULL,
    last_detail     TEXT NOT NULL,
    last_error      TEXT
);

-- Each probe's runs, counted by the hour (kept two days) and by the day (kept 90): how
-- many, how many passed, and their latency.
CREATE TABLE probe_rollups (
    probe          TEXT NOT NULL,
    span           TEXT NOT NULL,
    start_ms       BIGINT NOT NULL,
    runs           BIGINT NOT NULL,
    ok             BIGINT NOT NULL,
    latency_sum_ms BIGINT NOT NULL,
    latency_max_ms BIGINT NOT NULL,
    PRIMARY KEY (probe, span, start_ms)
);
CREATE INDEX probe_rollups_start ON probe_rollups (span, start_ms);
