-- The first schema: access keys, channels, catalog, stock, carts, orders, idempotency.
-- Portable SQL for SQLite and PostgreSQL. Times are Unix milliseconds; money is BIGINT minor units.

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  key_hint TEXT NOT NULL,
  channel_id TEXT,
  label TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);

CREATE TABLE stock_locations (
  id TEXT PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  address TEXT NOT NULL,
  latitude DOUBLE PRECISION,
  longitude DOUBLE PRECISION,
  pickup_enabled INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE channels (
  id TEXT PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  currency TEXT NOT NULL,
  tax_rate_bp INTEGER NOT NULL,
  tax_inclusive INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE channel_locations (
  channel_id TEXT NOT NULL REFERENCES channels(id),
  location_id TEXT NOT NULL REFERENCES stock_locations(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (channel_id, location_id)
);

CREATE TABLE categories (
  id TEXT PRIMARY KEY,
  handle TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  parent_id TEXT REFERENCES categories(id),
  position INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE products (
  id TEXT PRIMARY KEY,
  handle TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  title_lower TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  attributes TEXT NOT NULL,
  images TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE product_categories (
  product_id TEXT NOT NULL REFERENCES products(id),
  category_id TEXT NOT NULL REFERENCES categories(id),
  PRIMARY KEY (product_id, category_id)
);
CREATE INDEX product_categories_by_category ON product_categories (category_id, product_id);

CREATE TABLE variants (
  id TEXT PRIMARY KEY,
  product_id TEXT NOT NULL REFERENCES products(id),
  sku TEXT NOT NULL UNIQUE,
  barcode TEXT,
  title TEXT NOT NULL,
  options TEXT NOT NULL,
  position INTEGER NOT NULL,
  archived INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX variants_by_product ON variants (product_id, position);

CREATE TABLE variant_prices (
  variant_id TEXT NOT NULL REFERENCES variants(id),
  currency TEXT NOT NULL,
  amount BIGINT NOT NULL,
  PRIMARY KEY (variant_id, currency)
);

CREATE TABLE channel_products (
  channel_id TEXT NOT NULL REFERENCES channels(id),
  product_id TEXT NOT NULL REFERENCES products(id),
  published_at BIGINT NOT NULL,
  PRIMARY KEY (channel_id, product_id)
);

CREATE TABLE inventory_levels (
  variant_id TEXT NOT NULL REFERENCES variants(id),
  location_id TEXT NOT NULL REFERENCES stock_locations(id),
  on_hand BIGINT NOT NULL CHECK (on_hand >= 0),
  reserved BIGINT NOT NULL CHECK (reserved >= 0),
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (variant_id, location_id)
);
CREATE INDEX inventory_levels_by_location ON inventory_levels (location_id);

CREATE TABLE inventory_ledger (
  id TEXT PRIMARY KEY,
  variant_id TEXT NOT NULL,
  location_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  delta_on_hand BIGINT NOT NULL,
  delta_reserved BIGINT NOT NULL,
  on_hand_after BIGINT NOT NULL,
  reserved_after BIGINT NOT NULL,
  reference TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX inventory_ledger_by_level ON inventory_ledger (variant_id, location_id, created_at);

CREATE TABLE carts (
  id TEXT PRIMARY KEY,
  channel_id TEXT NOT NULL REFERENCES channels(id),
  currency TEXT NOT NULL,
  email TEXT,
  shipping_address TEXT,
  status TEXT NOT NULL,
  order_id TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE cart_items (
  id TEXT PRIMARY KEY,
  cart_id TEXT NOT NULL REFERENCES carts(id),
  variant_id TEXT NOT NULL REFERENCES variants(id),
  quantity BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (cart_id, variant_id)
);

CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('order_number', 1000);

CREATE TABLE orders (
  id TEXT PRIMARY KEY,
  number BIGINT NOT NULL UNIQUE,
  channel_id TEXT NOT NULL REFERENCES channels(id),
  cart_id TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  currency TEXT NOT NULL,
  email TEXT NOT NULL,
  shipping_address TEXT NOT NULL,
  subtotal BIGINT NOT NULL,
  tax_total BIGINT NOT NULL,
  shipping_total BIGINT NOT NULL,
  discount_total BIGINT NOT NULL,
  total BIGINT NOT NULL,
  snapshot TEXT NOT NULL,
  access_token_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX orders_by_channel ON orders (channel_id, id);
CREATE INDEX orders_by_status ON orders (status, id);

CREATE TABLE order_allocations (
  order_id TEXT NOT NULL REFERENCES orders(id),
  variant_id TEXT NOT NULL,
  location_id TEXT NOT NULL,
  quantity BIGINT NOT NULL,
  PRIMARY KEY (order_id, variant_id, location_id)
);

CREATE TABLE order_events (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders(id),
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX order_events_by_order ON order_events (order_id, id);

CREATE TABLE idempotency_keys (
  scope TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  secret TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (scope, idem_key)
);
