CREATE TABLE audit_events_old (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB REFERENCES tenants (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    action TEXT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'ops', 'system')),
    actor_id BLOB,
    actor_name TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id BLOB NOT NULL,
    target_name TEXT NOT NULL,
    fields TEXT NOT NULL,
    request_id TEXT,
    client TEXT
);
INSERT INTO audit_events_old SELECT * FROM audit_events WHERE actor_kind <> 'oauth_client';
DROP TABLE audit_events;
ALTER TABLE audit_events_old RENAME TO audit_events;
CREATE INDEX audit_events_tenant_page ON audit_events (tenant_id, created_at, id);
CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor_id, created_at);
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_id, created_at);
CREATE INDEX audit_events_age ON audit_events (created_at);

CREATE TABLE mcp_call_log_old (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_id BLOB NOT NULL,
    tool TEXT NOT NULL,
    scope TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'denied')),
    latency_us INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO mcp_call_log_old
    SELECT id, tenant_id, key_id, tool, scope, status, latency_us, created_at
    FROM mcp_call_log WHERE key_id IS NOT NULL;
DROP TABLE mcp_call_log;
ALTER TABLE mcp_call_log_old RENAME TO mcp_call_log;
CREATE INDEX mcp_call_log_tenant_page ON mcp_call_log (tenant_id, created_at, id);

DROP TABLE oauth_tokens;
DROP TABLE oauth_grants;
DROP TABLE oauth_clients;
