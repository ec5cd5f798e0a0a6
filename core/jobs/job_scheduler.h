// Timed work in the core: jobs are rows with a due time, claimed by one node with a lease, retried on failure.
#pragma once

#include "common/background_workers.h"
#include "common/clock.h"
#include "common/result.h"
#include "storage/database.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace quanqu::jobs {

// One run of a job as stored. `status` is scheduled (waiting for due_at), running (claimed by
// lease_owner until lease_until), succeeded or failed (its attempts are used up).
struct Job {
  std::string id;  // job_...
  std::string kind;
  nlohmann::json payload;
  std::string status;
  std::int64_t due_at = 0;
  int attempts = 0;  // attempts started, this one included while running
  int max_attempts = 0;
  std::string unique_key;  // empty: none
  std::string lease_owner;  // empty: none
  std::optional<std::int64_t> lease_until;
  std::string last_error;  // empty: none
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> finished_at;
};

// What a kind of job does and how it is retried.
struct JobKind {
  // Does the work. An error (or an exception) is a failed attempt, retried after a back-off of
  // retry_base * 2^(attempt - 1), at most an hour, jittered down by up to a half, until
  // max_attempts attempts were made; then the job is failed. It runs on a scheduler thread, never
  // in a request, and must finish within `lease`: past it another node may start it again, so
  // make it idempotent (a node that dies mid-run has its job run again once the lease is over).
  std::function<Status(const Job&)> run;
  int max_attempts = 5;
  std::chrono::milliseconds lease{std::chrono::minutes(5)};
  std::chrono::milliseconds retry_base{std::chrono::seconds(10)};
  // Above zero: a recurring job. One run exists at a time (unique key "recurring:<kind>"); each
  // run, once finished either way, schedules the next `every` later; start() schedules the first.
  std::chrono::milliseconds every{0};
};

struct SchedulerOptions {
  std::string node_id = "node";
  std::chrono::milliseconds poll{1000};  // how often due jobs are looked for
};

struct JobQuery {
  std::string status;  // empty: any
  std::string kind;    // empty: any
  int limit = 20;      // 1..100
  std::string cursor;  // the last id of the previous page
};

struct JobPage {
  std::vector<Job> items;
  std::string next_cursor;
};

class JobScheduler {
 public:
  JobScheduler(storage::Database& db, const Clock& clock, SchedulerOptions options = {});
  ~JobScheduler();  // stop()
  JobScheduler(const JobScheduler&) = delete;
  JobScheduler& operator=(const JobScheduler&) = delete;

  // Registers a kind (before start()). Only kinds registered here are claimed by this node.
  void define(std::string kind, JobKind definition);

  // Schedules a job inside the caller's transaction. With a unique key, nothing is written while
  // an unfinished job with that key exists, and the id returned is empty. Kinds not defined here
  // are allowed (another node may run them) with 5 attempts.
  Result<std::string> schedule_in(soci::session& sql, const std::string& kind, const nlohmann::json& payload,
                                  std::int64_t due_at, const std::string& unique_key = "");
  // The same in a transaction of its own; wakes this node's scheduler.
  Result<std::string> schedule(const std::string& kind, const nlohmann::json& payload, std::int64_t due_at,
                               const std::string& unique_key = "");

  Result<Job> get(const std::string& id);
  // Newest first. An unknown status is a 400 validation_failed.
  Result<JobPage> list(const JobQuery& query);

  // Schedules the first run of each recurring kind (if none is pending) and starts `threads`
  // scheduler threads (none when no kind is defined; a no-op while they run). Without start()
  // this node runs no jobs.
  void start(int threads = 1);
  // Stops after the jobs in hand (joins the threads); start() may follow.
  void stop();
  // Claims and runs one due job on the calling thread; true when one ran (tests).
  bool run_once();

  // Deletes jobs finished before `before_ms`, at most `limit`; returns how many.
  Result<std::int64_t> prune(std::int64_t before_ms, std::int64_t limit);

  // The back-off before attempt `attempt` + 1, given the kind's base: before jitter.
  static std::int64_t backoff_ms(std::int64_t base_ms, int attempt);

 private:
  Result<std::optional<Job>> claim();
  Status finish(const Job& job, const Status& outcome);

  storage::Database& db_;
  const Clock& clock_;
  const SchedulerOptions options_;
  std::map<std::string, JobKind> kinds_;
  BackgroundWorkers workers_;  // last: stopped before the rest goes
};

// "scheduled", "running", "succeeded", "failed".
bool is_job_status(std::string_view status);

}  // namespace quanqu::jobs
