CREATE TABLE idempotency_keys (
    owner text NOT NULL,
    idem_key text NOT NULL,
    fingerprint bytea NOT NULL,
    status integer,
    body bytea,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (owner, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
