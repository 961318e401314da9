-- Requests each API key made, per UTC hour and outcome. Nodes count in memory and add
-- their counts here in batches (an upsert per key and hour), so a request never
-- writes; rows older than the retention are swept. No foreign key: a flush that
-- races a deleted tenant must not fail the whole batch, and reads are scoped by
-- tenant and key anyway.
CREATE TABLE api_key_usage (
    key_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    hour timestamptz NOT NULL,
    ok bigint NOT NULL DEFAULT 0,
    client_error bigint NOT NULL DEFAULT 0,
    forbidden bigint NOT NULL DEFAULT 0,
    rate_limited bigint NOT NULL DEFAULT 0,
    server_error bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, hour)
);
CREATE INDEX api_key_usage_hour ON api_key_usage (hour);
