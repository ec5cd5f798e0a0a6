-- Metadata and attribution of carts and orders: a bounded JSON object of key/values (text, '{}'
-- when empty) and where the sale came from (a JSON object {"plugin", "campaign", "referral"}, or
-- NULL). Checkout copies both from the cart onto its order. Portable SQL for SQLite and PostgreSQL.
ALTER TABLE carts ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE carts ADD COLUMN source TEXT;

ALTER TABLE orders ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE orders ADD COLUMN source TEXT;
