-- Plugins at work: a channel's plugin and config, payment sessions, order payment and fulfilment
-- state, the shipping chosen for a cart, and customers with their sign-in sessions.

ALTER TABLE channels ADD COLUMN plugin TEXT;
ALTER TABLE channels ADD COLUMN config TEXT NOT NULL DEFAULT '{}';
ALTER TABLE channels ADD COLUMN payment_providers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE channels ADD COLUMN fulfilment_providers TEXT NOT NULL DEFAULT '[]';

-- JSON {"provider", "amount", "label", "location_id", "data"} once a shipping method is chosen.
ALTER TABLE carts ADD COLUMN shipping TEXT;

ALTER TABLE orders ADD COLUMN payment_status TEXT NOT NULL DEFAULT 'not_required';
ALTER TABLE orders ADD COLUMN payment_session_id TEXT;
ALTER TABLE orders ADD COLUMN fulfilment_status TEXT NOT NULL DEFAULT 'unfulfilled';
ALTER TABLE orders ADD COLUMN shipping TEXT;

CREATE TABLE payment_sessions (
  id TEXT PRIMARY KEY,
  cart_id TEXT NOT NULL REFERENCES carts(id),
  channel_id TEXT NOT NULL REFERENCES channels(id),
  provider TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  status TEXT NOT NULL,
  reference TEXT,
  data TEXT NOT NULL,
  order_id TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX payment_sessions_by_cart ON payment_sessions (cart_id, created_at);
CREATE UNIQUE INDEX payment_sessions_by_reference ON payment_sessions (provider, reference);

CREATE TABLE customers (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  phone TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE customer_sessions (
  token_hash TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX customer_sessions_by_customer ON customer_sessions (customer_id);
