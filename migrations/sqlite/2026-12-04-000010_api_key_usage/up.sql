-- The same change as migrations/postgres, in SQLite's types (see the first migration).
CREATE TABLE api_key_usage (
    key_id BLOB NOT NULL,
    tenant_id BLOB NOT NULL,
    hour TEXT NOT NULL,
    ok INTEGER NOT NULL DEFAULT 0,
    client_error INTEGER NOT NULL DEFAULT 0,
    forbidden INTEGER NOT NULL DEFAULT 0,
    rate_limited INTEGER NOT NULL DEFAULT 0,
    server_error INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, hour)
);
CREATE INDEX api_key_usage_hour ON api_key_usage (hour);
