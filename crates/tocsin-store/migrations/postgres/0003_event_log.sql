-- The event log: every event acknowledged to a sender, in the order it was committed.
-- `body` is the event as one line of NDJSON. The log has no index but its key, so that
-- appending stays fast; what is searched is indexed behind it, by followers of `seq`.
-- Appends take a transaction-level advisory lock, so sequence numbers are committed in
-- order and a reader following `seq` never skips a row that commits late.

CREATE TABLE events (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_ms   BIGINT NOT NULL,
    at_ms         BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    origin        TEXT NOT NULL,
    -- Set for auth events only, for the login trail.
    login_ip      TEXT,
    login_user    TEXT,
    login_outcome TEXT,
    body          TEXT NOT NULL
);

-- The login trail: the auth events of the log, indexed for search. Filled from `events`
-- up to the `login_trail` cursor.
CREATE TABLE login_trail (
    seq       BIGINT PRIMARY KEY,
    at_ms     BIGINT NOT NULL,
    ip        TEXT NOT NULL,
    user_name TEXT NOT NULL,
    outcome   TEXT NOT NULL
);
CREATE INDEX login_trail_at ON login_trail (at_ms);
CREATE INDEX login_trail_ip ON login_trail (ip, at_ms);
CREATE INDEX login_trail_user ON login_trail (user_name, at_ms);

-- How far each follower of the event log has read.
CREATE TABLE event_cursors (
    name TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);
