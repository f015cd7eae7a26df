-- People, API tokens, browser sessions, and the trail of every login attempt.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL,
    name_key            TEXT NOT NULL UNIQUE,
    role                TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    disabled            BOOLEAN NOT NULL,
    created_ms          INTEGER NOT NULL,
    password_changed_ms INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER,
    last_used_ms INTEGER,
    revoked_ms   INTEGER
);
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name_key) WHERE revoked_ms IS NULL;

CREATE TABLE sessions (
    hash         TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    csrf         TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE login_attempts (
    id         INTEGER PRIMARY KEY,
    at_ms      INTEGER NOT NULL,
    username   TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    user_id    INTEGER,
    ip         TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    outcome    TEXT NOT NULL
);
CREATE INDEX login_attempts_by_ip ON login_attempts (ip, at_ms);
CREATE INDEX login_attempts_by_name ON login_attempts (name_key, at_ms);
