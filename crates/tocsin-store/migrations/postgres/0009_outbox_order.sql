-- Notifications about one incident reach a channel in the order they were made: a claim
-- skips one while an earlier one for the same channel and incident is still pending.
CREATE INDEX outbox_line ON outbox (channel, incident, id) WHERE state = 'pending';
