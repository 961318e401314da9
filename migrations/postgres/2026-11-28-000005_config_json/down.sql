-- Fails if a stored config holds \u0000, which jsonb cannot keep.
ALTER TABLE instances ALTER COLUMN config TYPE jsonb USING config::jsonb;
