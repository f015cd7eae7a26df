-- Why the plan suppressed a signal: the reason of the [[suppress]] table that covered it.
-- A suppressed signal is only recorded (its action is `record`).
ALTER TABLE signals ADD COLUMN suppressed TEXT;
