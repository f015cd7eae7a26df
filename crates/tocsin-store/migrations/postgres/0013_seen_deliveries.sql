-- Signed deliveries already taken, by their integration and signature, so that a replay
-- is refused across restarts and servers. Rows older than the replay window are pruned.
CREATE TABLE seen_deliveries (
    integration BIGINT NOT NULL,
    signature   TEXT NOT NULL,
    seen_ms     BIGINT NOT NULL,
    PRIMARY KEY (integration, signature)
);
CREATE INDEX seen_deliveries_by_time ON seen_deliveries (seen_ms);
