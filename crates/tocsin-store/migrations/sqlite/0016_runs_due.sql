-- When the action worker must next look at an incident's runs (a run ready, a request
-- about to expire, a run cut short), so that it finds them without reading every incident.
ALTER TABLE incidents ADD COLUMN runs_due_ms BIGINT;
CREATE INDEX incidents_runs_due ON incidents (runs_due_ms);
