CREATE TABLE mcp_credentials (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    server_url text NOT NULL,
    auth_kind text NOT NULL CHECK (auth_kind IN ('bearer', 'header')),
    header_name text,
    secret_hint text NOT NULL,
    key_id text NOT NULL,
    nonce bytea NOT NULL,
    ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT mcp_credentials_tenant_id_name UNIQUE (tenant_id, name)
);
CREATE INDEX mcp_credentials_tenant_page ON mcp_credentials (tenant_id, created_at, id);
