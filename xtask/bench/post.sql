\set n random(1, 1000)
\set r random(1, 1000000000)
SELECT tenant_id, scopes FROM api_keys WHERE key_hash = (SELECT key_hash FROM bench_aux.targets WHERE n = :n) AND revoked_at IS NULL;
INSERT INTO instances (tenant_id, name, status, runtime_image, config) SELECT tenant_id, 'pg-' || :client_id || '-' || :r, 'pending', 'ghcr.io/acme/api:1.4.2', '{"cpu":1,"memory_mb":512,"env":{"LOG_LEVEL":"info"}}'::jsonb FROM bench_aux.targets WHERE n = :n RETURNING id, name, status, runtime_image, config, created_at, updated_at;
