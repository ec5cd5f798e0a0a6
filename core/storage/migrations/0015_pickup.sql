-- Buy online, pick up in store: the hold period of a store, the cart's fulfilment choice, and the
-- pickup state of an order (the store, its code hashed and sealed, failed attempts, the hold).
-- Portable SQL for SQLite and PostgreSQL. Times are Unix milliseconds.

-- How long a ready pickup order waits at the store before it is cancelled, 1 to 720 hours.
ALTER TABLE stock_locations ADD COLUMN pickup_hold_hours INTEGER NOT NULL DEFAULT 72;

-- ship (a shipping address and, where the channel has providers, a shipping method) or pickup.
ALTER TABLE carts ADD COLUMN fulfilment_type TEXT NOT NULL DEFAULT 'ship';
ALTER TABLE carts ADD COLUMN pickup_location_id TEXT;

ALTER TABLE orders ADD COLUMN fulfilment_type TEXT NOT NULL DEFAULT 'ship';
ALTER TABLE orders ADD COLUMN pickup_location_id TEXT;
-- SHA-256 of the order id and the 6-digit code: what the desk's code is checked against.
ALTER TABLE orders ADD COLUMN pickup_code_hash TEXT;
-- The code plus a pad derived from the order's access token, modulo 10^6: shown to the token's holder.
ALTER TABLE orders ADD COLUMN pickup_code_sealed INTEGER;
ALTER TABLE orders ADD COLUMN pickup_failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN pickup_locked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN pickup_ready_at BIGINT;
ALTER TABLE orders ADD COLUMN pickup_expires_at BIGINT;
