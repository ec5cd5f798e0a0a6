-- Orders by the time they were placed: the sales report reads one period of orders.
CREATE INDEX orders_by_created_at ON orders (created_at);
