-- The same change as migrations/postgres.
ALTER TABLE instances ADD COLUMN status_reason TEXT;
CREATE INDEX instances_running ON instances (id) WHERE status = 'running';
