-- What bouncers are told. Every addition and removal of a block takes the next number of
-- one counter, whose row writers lock in turn, so the numbers become visible in order; a
-- bouncer's cursor is the last number it was told of and when, and each pull is the
-- difference since. Blocks added before this migration count as numbered by their id.
ALTER TABLE blocks ADD COLUMN added_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE blocks ADD COLUMN removed_seq BIGINT;
UPDATE blocks SET added_seq = id, removed_seq = CASE WHEN removed_ms IS NULL THEN NULL ELSE id END;
CREATE INDEX blocks_added ON blocks (added_seq);
CREATE INDEX blocks_removed ON blocks (removed_seq);
CREATE INDEX blocks_expiring ON blocks (expires_ms);
CREATE TABLE block_clock (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO block_clock (id, seq) SELECT 1, COALESCE(MAX(id), 0) FROM blocks;
-- A bouncer is an integration; its cursor (none before its first pull), and what it last
-- said of itself.
CREATE TABLE bouncer_pulls (
    integration BIGINT PRIMARY KEY,
    seq         BIGINT,
    pulled_ms   BIGINT,
    agent       TEXT,
    metrics     TEXT,
    metrics_ms  BIGINT
);
