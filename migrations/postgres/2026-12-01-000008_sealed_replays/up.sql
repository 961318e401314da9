-- Replayed responses are kept sealed (AES-256-GCM with the server's keyring): `body`
-- holds the ciphertext, with the id of the key and the nonce beside it. Records kept
-- before held their bodies in plaintext (API keys among them): they go, which costs
-- at most the replay of a retry in flight during the upgrade.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys ADD COLUMN seal_key_id text;
ALTER TABLE idempotency_keys ADD COLUMN seal_nonce bytea;
