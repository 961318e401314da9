-- The same change as migrations/postgres: ids are 16-byte BLOBs, timestamps are
-- fixed-width UTC text (YYYY-MM-DDTHH:MM:SS.ffffffZ, so text order is time order),
-- JSON is text.
CREATE TABLE tenants (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash BLOB NOT NULL,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT,
    rate_limit_requests INTEGER,
    rate_limit_per_seconds INTEGER,
    CONSTRAINT api_keys_key_hash UNIQUE (key_hash)
);
CREATE INDEX api_keys_tenant_page ON api_keys (tenant_id, created_at, id);

CREATE TABLE runtime_images (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT runtime_images_name_version UNIQUE (name, version)
);
CREATE INDEX runtime_images_page ON runtime_images (created_at, id);

CREATE TABLE runtime_image_channels (
    channel TEXT PRIMARY KEY NOT NULL,
    image_id BLOB NOT NULL REFERENCES runtime_images (id) ON DELETE CASCADE,
    promoted_at TEXT NOT NULL
);

CREATE TABLE instances (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('stopped', 'starting', 'running', 'stopping', 'failed')),
    runtime_image TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT instances_tenant_id_name UNIQUE (tenant_id, name)
);
CREATE INDEX instances_tenant_page ON instances (tenant_id, created_at, id);

CREATE TABLE mcp_call_log (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_id BLOB NOT NULL,
    tool TEXT NOT NULL,
    scope TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'denied')),
    latency_us INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX mcp_call_log_tenant_page ON mcp_call_log (tenant_id, created_at, id);
