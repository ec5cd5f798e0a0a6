-- The order lifecycle: statuses renamed to the lifecycle's (orders/lifecycle.h), who did each
-- order event, refunds through the payment provider and returns of shipped lines.
-- Portable SQL for SQLite and PostgreSQL. Times are Unix milliseconds.

-- pending becomes placed; fulfilled becomes shipped; an unpaid order whose goods already left
-- (cash on delivery) reads shipped or delivered, as the lifecycle has it.
UPDATE orders SET status = 'placed' WHERE status = 'pending';
UPDATE orders SET status = 'shipped' WHERE status = 'fulfilled';
UPDATE orders SET status = 'shipped' WHERE status = 'placed' AND fulfilment_status = 'fulfilled';
UPDATE orders SET status = 'delivered' WHERE status IN ('placed', 'shipped') AND fulfilment_status = 'delivered';

-- Who made the change: admin (the admin key's id), customer, plugin (its name), job, system.
ALTER TABLE order_events ADD COLUMN actor_type TEXT NOT NULL DEFAULT 'system';
ALTER TABLE order_events ADD COLUMN actor_id TEXT;

-- A refund is written pending before the provider is asked and finished after, so that a crash
-- or a timeout in between never refunds twice (the id is the provider's idempotency key).
CREATE TABLE order_refunds (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders(id),
  amount BIGINT NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  reason TEXT NOT NULL,
  lines TEXT NOT NULL,
  status TEXT NOT NULL,
  provider TEXT,
  provider_reference TEXT,
  failure TEXT,
  return_id TEXT,
  actor_type TEXT NOT NULL,
  actor_id TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX order_refunds_by_order ON order_refunds (order_id, created_at);

CREATE TABLE order_returns (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders(id),
  lines TEXT NOT NULL,
  restock INTEGER NOT NULL,
  location_id TEXT REFERENCES stock_locations(id),
  reason TEXT NOT NULL,
  refund_id TEXT,
  actor_type TEXT NOT NULL,
  actor_id TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX order_returns_by_order ON order_returns (order_id, created_at);
