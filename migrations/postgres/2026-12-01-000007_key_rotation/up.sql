-- When a key was rotated: a rotated key lives out its grace period but cannot be
-- rotated again (its successor is the key to rotate).
ALTER TABLE api_keys ADD COLUMN rotated_at timestamptz;
