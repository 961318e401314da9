\set n random(1, 1000)
SELECT tenant_id, scopes FROM api_keys WHERE key_hash = (SELECT key_hash FROM bench_aux.targets WHERE n = :n) AND revoked_at IS NULL;
SELECT id, name, status, runtime_image, config, created_at, updated_at FROM instances WHERE id = (SELECT instance_id FROM bench_aux.targets WHERE n = :n) AND tenant_id = (SELECT tenant_id FROM bench_aux.targets WHERE n = :n);
