DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys DROP COLUMN seal_nonce;
ALTER TABLE idempotency_keys DROP COLUMN seal_key_id;
