-- The accounts a signal is about when its key is not one (the account a compromise got
-- into), as a JSON array.
ALTER TABLE signals ADD COLUMN accounts TEXT NOT NULL DEFAULT '[]';

-- Events that signals cite as evidence: retention keeps them, since incidents (which are
-- never deleted) rest on them.
CREATE TABLE cited_events (
    seq BIGINT PRIMARY KEY
);
