-- The same change as migrations/postgres, in SQLite's types (see the first migration).
CREATE TABLE mcp_credentials (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    server_url TEXT NOT NULL,
    auth_kind TEXT NOT NULL CHECK (auth_kind IN ('bearer', 'header')),
    header_name TEXT,
    secret_hint TEXT NOT NULL,
    key_id TEXT NOT NULL,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT mcp_credentials_tenant_id_name UNIQUE (tenant_id, name)
);
CREATE INDEX mcp_credentials_tenant_page ON mcp_credentials (tenant_id, created_at, id);
