CREATE TABLE tenants (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    prefix text NOT NULL,
    key_hash bytea NOT NULL,
    scopes text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    rate_limit_requests integer,
    rate_limit_per_seconds integer,
    CONSTRAINT api_keys_key_hash UNIQUE (key_hash)
);
CREATE INDEX api_keys_tenant_page ON api_keys (tenant_id, created_at, id);

CREATE TABLE runtime_images (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    version text NOT NULL,
    digest text NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT runtime_images_name_version UNIQUE (name, version)
);
CREATE INDEX runtime_images_page ON runtime_images (created_at, id);

CREATE TABLE runtime_image_channels (
    channel text PRIMARY KEY,
    image_id uuid NOT NULL REFERENCES runtime_images (id) ON DELETE CASCADE,
    promoted_at timestamptz NOT NULL
);

CREATE TABLE instances (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    status text NOT NULL CHECK (status IN ('stopped', 'starting', 'running', 'stopping', 'failed')),
    runtime_image text NOT NULL,
    config jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT instances_tenant_id_name UNIQUE (tenant_id, name)
);
CREATE INDEX instances_tenant_page ON instances (tenant_id, created_at, id);

CREATE TABLE mcp_call_log (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_id uuid NOT NULL,
    tool text NOT NULL,
    scope text NOT NULL,
    status text NOT NULL CHECK (status IN ('ok', 'error', 'denied')),
    latency_us bigint NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX mcp_call_log_tenant_page ON mcp_call_log (tenant_id, created_at, id);
