-- The same change as migrations/postgres. SQLite cannot change a column's or a
-- table's constraints in place, so mcp_call_log and audit_events are rebuilt.
CREATE TABLE oauth_clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE oauth_grants (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    client_name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX oauth_grants_user ON oauth_grants (user_id, created_at);
CREATE TABLE oauth_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    grant_id BLOB NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('code', 'access', 'refresh')),
    scopes TEXT NOT NULL,
    redirect_uri TEXT,
    challenge TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);

CREATE TABLE mcp_call_log_new (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_id BLOB,
    tool TEXT NOT NULL,
    scope TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'denied')),
    latency_us INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    grant_id BLOB,
    client_name TEXT,
    CONSTRAINT mcp_call_log_caller CHECK ((key_id IS NULL) <> (grant_id IS NULL))
);
INSERT INTO mcp_call_log_new (id, tenant_id, key_id, tool, scope, status, latency_us, created_at)
    SELECT id, tenant_id, key_id, tool, scope, status, latency_us, created_at FROM mcp_call_log;
DROP TABLE mcp_call_log;
ALTER TABLE mcp_call_log_new RENAME TO mcp_call_log;
CREATE INDEX mcp_call_log_tenant_page ON mcp_call_log (tenant_id, created_at, id);

CREATE TABLE audit_events_new (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB REFERENCES tenants (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    action TEXT NOT NULL,
    actor_kind TEXT NOT NULL
        CHECK (actor_kind IN ('user', 'api_key', 'ops', 'system', 'oauth_client')),
    actor_id BLOB,
    actor_name TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id BLOB NOT NULL,
    target_name TEXT NOT NULL,
    fields TEXT NOT NULL,
    request_id TEXT,
    client TEXT
);
INSERT INTO audit_events_new SELECT * FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;
CREATE INDEX audit_events_tenant_page ON audit_events (tenant_id, created_at, id);
CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor_id, created_at);
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_id, created_at);
CREATE INDEX audit_events_age ON audit_events (created_at);
