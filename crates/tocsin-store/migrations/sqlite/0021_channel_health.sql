-- How each channel's deliveries go: failing since when (NULL while they work), the last
-- error, the last success, and when its failing was announced on its fallback.
CREATE TABLE channel_health (
    channel          TEXT PRIMARY KEY,
    failing_since_ms BIGINT,
    last_error       TEXT,
    last_ok_ms       BIGINT,
    announced_ms     BIGINT
);
