-- A cart's payment sessions in the order they were started: the newest is the one checkout
-- uses, and two started in one millisecond were not ordered by time and random-suffixed ids.
ALTER TABLE payment_sessions ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
