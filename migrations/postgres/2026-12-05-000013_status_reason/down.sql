DROP INDEX instances_running;
ALTER TABLE instances DROP COLUMN status_reason;
