-- The transactional outbox: every domain event is written here in the transaction of the change
-- it describes; a relay on some node claims pending rows (a lease), hands them to the plugins in
-- process and fans them out to webhook deliveries, then marks them dispatched.
-- Portable SQL for SQLite and PostgreSQL. Times are Unix milliseconds.
CREATE TABLE event_outbox (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  occurred_at BIGINT NOT NULL,
  -- Orders events written in one millisecond (one transaction writes several): a per-process counter.
  ordinal BIGINT NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT,
  deliveries INTEGER NOT NULL DEFAULT 0,
  dispatched_at BIGINT
);
CREATE INDEX event_outbox_pending ON event_outbox (occurred_at, ordinal) WHERE dispatched_at IS NULL;
CREATE INDEX event_outbox_dispatched ON event_outbox (dispatched_at) WHERE dispatched_at IS NOT NULL;
