-- The outbox: every notification is stored here before it is sent, and delivered from
-- here by workers that claim it with a lease, so that several instances share the work
-- and a crash loses nothing. `idempotency_key` says what the notification is about (an
-- audit entry and a channel, a clock's warning): enqueueing it twice stores it once, and
-- channels that can pass it on let the receiver drop a send repeated after a crash.

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    -- The plan's name of the channel.
    channel         TEXT NOT NULL,
    -- What happened: declared, acknowledged, clock_warning, test, ...
    kind            TEXT NOT NULL,
    incident        BIGINT,
    -- The message, as JSON, for the channel to render.
    payload         TEXT NOT NULL,
    -- pending, sent or dead (gave up after too many attempts).
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    created_ms      BIGINT NOT NULL,
    -- Not sent before this time: the first try, or the next after a failure.
    next_ms         BIGINT NOT NULL,
    -- A worker's claim: until then no other worker takes it.
    lease_until_ms  BIGINT,
    leased_by       TEXT,
    sent_ms         BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_ms, id) WHERE state = 'pending';
CREATE INDEX outbox_state ON outbox (state, id);
