-- The same change as migrations/postgres.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys ADD COLUMN seal_key_id TEXT;
ALTER TABLE idempotency_keys ADD COLUMN seal_nonce BLOB;
