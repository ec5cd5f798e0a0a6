-- Cart lines keep the order in which they were added (ids and millisecond times do not).
ALTER TABLE cart_items ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
