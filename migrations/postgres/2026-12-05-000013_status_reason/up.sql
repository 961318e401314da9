-- Why an instance is failed, in the runtime's words; and the running instances the
-- runtime sweep reads, by id.
ALTER TABLE instances ADD COLUMN status_reason text;
CREATE INDEX instances_running ON instances (id) WHERE status = 'running';
