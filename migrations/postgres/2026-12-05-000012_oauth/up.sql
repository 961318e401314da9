-- OAuth 2.1 for /mcp: clients registered here (RFC 7591; clients named by a metadata
-- document are fetched, not stored), grants (one client acting for one person in one
-- tenant), and every code and token of a grant, stored only as SHA-256.
CREATE TABLE oauth_clients (
    id text PRIMARY KEY,
    name text NOT NULL,
    redirect_uris text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE oauth_grants (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id text NOT NULL,
    client_name text NOT NULL,
    scopes text NOT NULL,
    resource text NOT NULL,
    created_at timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX oauth_grants_user ON oauth_grants (user_id, created_at);
CREATE TABLE oauth_tokens (
    token_hash bytea PRIMARY KEY,
    grant_id uuid NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('code', 'access', 'refresh')),
    scopes text NOT NULL,
    redirect_uri text,
    challenge text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);

-- A tool call is made with an API key or through an OAuth grant.
ALTER TABLE mcp_call_log ALTER COLUMN key_id DROP NOT NULL;
ALTER TABLE mcp_call_log ADD COLUMN grant_id uuid;
ALTER TABLE mcp_call_log ADD COLUMN client_name text;
ALTER TABLE mcp_call_log ADD CONSTRAINT mcp_call_log_caller
    CHECK ((key_id IS NULL) <> (grant_id IS NULL));

ALTER TABLE audit_events DROP CONSTRAINT audit_events_actor_kind_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_actor_kind_check
    CHECK (actor_kind IN ('user', 'api_key', 'ops', 'system', 'oauth_client'));
