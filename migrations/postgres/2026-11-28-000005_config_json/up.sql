-- `config` is relayed, never queried: `json` keeps the client's JSON text as it was
-- (jsonb rewrote it and refused the escape \u0000, which JSON allows).
ALTER TABLE instances ALTER COLUMN config TYPE json USING config::json;
