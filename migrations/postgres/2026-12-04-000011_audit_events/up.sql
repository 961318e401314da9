-- The management audit log: one row per change, written in the change's own
-- transaction. Names of changed fields only, never their values. A tenant's events go
-- with the tenant; runtime-image events belong to no tenant.
CREATE TABLE audit_events (
    id uuid PRIMARY KEY,
    tenant_id uuid REFERENCES tenants (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    action text NOT NULL,
    actor_kind text NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'ops', 'system')),
    actor_id uuid,
    actor_name text NOT NULL,
    target_kind text NOT NULL,
    target_id uuid NOT NULL,
    target_name text NOT NULL,
    fields text NOT NULL,
    request_id text,
    client text
);
CREATE INDEX audit_events_tenant_page ON audit_events (tenant_id, created_at, id);
CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor_id, created_at);
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_id, created_at);
CREATE INDEX audit_events_age ON audit_events (created_at);
