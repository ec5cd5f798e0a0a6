-- Plugin key-value expiry (SDK ABI 1.1): a key may expire at a time (Unix ms); NULL never expires.
-- Portable SQL for SQLite and PostgreSQL. The partial index finds expired rows for pruning.

ALTER TABLE plugin_kv ADD COLUMN expires_at BIGINT;
CREATE INDEX plugin_kv_by_expiry ON plugin_kv (expires_at) WHERE expires_at IS NOT NULL;
