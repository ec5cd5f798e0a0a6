-- Idempotency keys of the create routes (carts, items, payment sessions, admin creates): the
-- first 2xx reply, stored so that a retry with the same key gets it back. Checkout keeps its
-- own rows in idempotency_keys, written in the checkout transaction itself.
-- state is 'pending' while the first request runs (claim_id names that run) and 'done' once its
-- reply is stored; a refused request deletes its row. Rows older than a day are pruned.
CREATE TABLE request_idempotency (
  scope TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL,
  claim_id TEXT NOT NULL,
  status INTEGER,
  content_type TEXT,
  location TEXT,
  body TEXT,
  claimed_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (scope, idem_key)
);
CREATE INDEX request_idempotency_by_age ON request_idempotency (created_at);
