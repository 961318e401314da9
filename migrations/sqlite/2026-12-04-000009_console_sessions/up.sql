-- Console sessions: a browser's cookie names one by its secret, kept here only as a
-- SHA-256 hash. Deleting a row signs that browser out at once; expired rows are swept.
CREATE TABLE console_sessions (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    CONSTRAINT console_sessions_token_hash UNIQUE (token_hash)
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
