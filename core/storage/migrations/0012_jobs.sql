-- Scheduled jobs: a row per run, due at due_at, claimed by one node with a lease, retried on failure.
-- status: scheduled (due, or running while lease_until is in the future), succeeded, failed.
-- unique_key names a job that may exist once while unfinished (a recurring job's next run).
-- Portable SQL for SQLite and PostgreSQL. Times are Unix milliseconds.
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  unique_key TEXT,
  lease_owner TEXT,
  lease_until BIGINT,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE INDEX jobs_due ON jobs (due_at) WHERE status = 'scheduled';
CREATE UNIQUE INDEX jobs_unique_unfinished ON jobs (unique_key) WHERE finished_at IS NULL;
