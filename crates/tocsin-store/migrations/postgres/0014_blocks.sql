-- Blocked addresses and networks, for the enforcement points that ask tocsin. A block is
-- never deleted: removing it stamps it, so that bouncers learn of the removal and the
-- record stays. Each addition and removal is also an entry of the audit chain.
CREATE TABLE blocks (
    id BIGSERIAL PRIMARY KEY,
    network     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    incident    BIGINT,
    created_by  TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT,
    removed_by  TEXT,
    removed_ms  BIGINT
);
CREATE INDEX blocks_in_force ON blocks (removed_ms, expires_ms);
