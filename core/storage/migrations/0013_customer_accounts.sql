-- One customer across channels: passwords (Argon2id strings from libsodium), groups (membership
-- tiers), saved addresses, identities on channels, the cart's owner, and erasure.
-- Portable SQL for SQLite and PostgreSQL. Times are Unix milliseconds.

ALTER TABLE customers ADD COLUMN password_hash TEXT;
ALTER TABLE customers ADD COLUMN group_id TEXT;
ALTER TABLE customers ADD COLUMN erased_at BIGINT;

-- The signed-in customer who created the cart; NULL for a guest's cart.
ALTER TABLE carts ADD COLUMN customer_id TEXT;
CREATE INDEX carts_by_customer ON carts (customer_id);

CREATE TABLE customer_groups (
  id TEXT PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE customer_addresses (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  address TEXT NOT NULL,
  is_default INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX customer_addresses_by_customer ON customer_addresses (customer_id, id);

-- (type, value) names one customer: "email", "phone", "mini_program.open_id", ...
CREATE TABLE customer_identities (
  type TEXT NOT NULL,
  value TEXT NOT NULL,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  linked_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (type, value)
);
CREATE INDEX customer_identities_by_customer ON customer_identities (customer_id);
