-- The same change as migrations/postgres.
ALTER TABLE api_keys ADD COLUMN rotated_at TEXT;
