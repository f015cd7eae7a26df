-- The accounts a signal is about when its key is not one (the account a compromise got
-- into), as a JSON array.
ALTER TABLE signals ADD COLUMN accounts TEXT NOT NULL DEFAULT '[]';

-- Events that signals cite as evidence: retention keeps them, since incidents (which are
-- never deleted) rest on them.
CREATE TABLE cited_events (
    seq BIGINT PRIMARY KEY
);

-- The signals of an incident: the keys its recovery watch follows.
CREATE INDEX signals_incident ON signals (incident, id);
