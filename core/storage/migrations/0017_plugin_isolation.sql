-- The merchant's choice of where each plugin runs: 'in_process' or 'process', NULL for the
-- server's default (process isolation unless the plugin is on the trusted list).
-- Portable SQL for SQLite and PostgreSQL.

ALTER TABLE plugin_settings ADD COLUMN isolation TEXT;
