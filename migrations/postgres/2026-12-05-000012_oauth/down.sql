ALTER TABLE audit_events DROP CONSTRAINT audit_events_actor_kind_check;
DELETE FROM audit_events WHERE actor_kind = 'oauth_client';
ALTER TABLE audit_events ADD CONSTRAINT audit_events_actor_kind_check
    CHECK (actor_kind IN ('user', 'api_key', 'ops', 'system'));
DELETE FROM mcp_call_log WHERE key_id IS NULL;
ALTER TABLE mcp_call_log DROP CONSTRAINT mcp_call_log_caller;
ALTER TABLE mcp_call_log DROP COLUMN client_name;
ALTER TABLE mcp_call_log DROP COLUMN grant_id;
ALTER TABLE mcp_call_log ALTER COLUMN key_id SET NOT NULL;
DROP TABLE oauth_tokens;
DROP TABLE oauth_grants;
DROP TABLE oauth_clients;
