-- Order events in the order they were recorded: several happen in one millisecond (placed and
-- paid at checkout), and neither time nor random-suffixed ids order those.
ALTER TABLE order_events ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
