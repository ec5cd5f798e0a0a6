-- Merchant keys scoped to one plugin (kind 'plugin'): they open that plugin's protected routes and nothing else.
ALTER TABLE api_keys ADD COLUMN plugin TEXT;
CREATE INDEX api_keys_by_plugin ON api_keys (plugin, created_at);
