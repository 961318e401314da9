-- The same change as migrations/postgres, in SQLite's types (see the first migration).
CREATE TABLE users (
    id BLOB PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active_tenant_id BLOB REFERENCES tenants (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT users_email UNIQUE (email)
);

CREATE TABLE memberships (
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_tenant_page ON memberships (tenant_id, created_at, user_id);
CREATE INDEX memberships_user ON memberships (user_id, created_at);

CREATE TABLE refresh_tokens (
    id BLOB PRIMARY KEY NOT NULL,
    family_id BLOB NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT,
    CONSTRAINT refresh_tokens_token_hash UNIQUE (token_hash)
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
