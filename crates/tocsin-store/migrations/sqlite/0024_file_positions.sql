-- How far each log file that `tocsin ingest --follow` reads was read: written in the same
-- transaction as the events of its lines, so that a restart goes on where it stopped.
CREATE TABLE file_positions (
    source      TEXT PRIMARY KEY,
    inode       BIGINT NOT NULL,
    byte_offset BIGINT NOT NULL,
    head        TEXT NOT NULL,
    head_len    BIGINT NOT NULL
);
