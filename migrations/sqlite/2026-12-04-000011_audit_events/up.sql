-- The management audit log: one row per change, written in the change's own
-- transaction. Names of changed fields only, never their values. A tenant's events go
-- with the tenant; runtime-image events belong to no tenant.
CREATE TABLE audit_events (
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
CREATE INDEX audit_events_tenant_page ON audit_events (tenant_id, created_at, id);
CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor_id, created_at);
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_id, created_at);
CREATE INDEX audit_events_age ON audit_events (created_at);
