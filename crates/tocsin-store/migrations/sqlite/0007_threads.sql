-- Each incident's thread on each channel that threads: the channel's reference to the
-- first message delivered about it (a Telegram message id, an email's Message-ID). Later
-- messages about the incident reply to it instead of starting anew.

CREATE TABLE channel_threads (
    channel    TEXT NOT NULL,
    incident   INTEGER NOT NULL,
    reference  TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (channel, incident)
);
