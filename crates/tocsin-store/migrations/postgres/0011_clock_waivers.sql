-- A clock marked not required for its incident says why; an obligation without a fixed
-- deadline may carry the cadence of its reminders (a plan duration, like "24h").
ALTER TABLE clocks ADD COLUMN waived TEXT;
ALTER TABLE clocks ADD COLUMN remind_every TEXT;
