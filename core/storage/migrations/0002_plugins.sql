-- Plugin runtime: each plugin's own key-value state, scoped by plugin name.
-- Portable SQL for SQLite and PostgreSQL. Times are Unix milliseconds.

CREATE TABLE plugin_kv (
  plugin TEXT NOT NULL,
  k TEXT NOT NULL,
  v TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (plugin, k)
);
