-- The merchant's settings of each plugin, by plugin name (a plugin need not be loaded to keep
-- them): the deadline of each of its calls in milliseconds, NULL for the server default.
-- Portable SQL for SQLite and PostgreSQL. Times are Unix milliseconds.

CREATE TABLE plugin_settings (
  plugin TEXT PRIMARY KEY,
  timeout_ms BIGINT,
  updated_at BIGINT NOT NULL
);
