// The job table's claims, retries and recurrences, and the scheduler threads that run due jobs.
#include "jobs/job_scheduler.h"

#include "common/ids.h"
#include "storage/dynamic_query.h"
#include "storage/prune.h"

#include <algorithm>
#include <random>
#include <thread>

namespace quanqu::jobs {

using nlohmann::json;

namespace {

constexpr const char* kColumns =
    "id, kind, payload, status, due_at, attempts, max_attempts, unique_key, lease_owner, lease_until, last_error, "
    "created_at, updated_at, finished_at";
constexpr std::int64_t kMaxBackoffMs = 3600 * 1000;
constexpr std::size_t kMaxErrorBytes = 1000;

// A row of kColumns, read through one statement.
struct JobRow {
  std::string id, kind, payload, status, unique_key, lease_owner, last_error;
  long long due_at = 0, attempts = 0, max_attempts = 0, lease_until = 0, created_at = 0, updated_at = 0,
            finished_at = 0;
  soci::indicator unique_ind = soci::i_null, owner_ind = soci::i_null, lease_ind = soci::i_null,
                  error_ind = soci::i_null, finished_ind = soci::i_null;

  void bind(storage::DynamicQuery& q) {
    q.into(id).into(kind).into(payload).into(status).into(due_at).into(attempts).into(max_attempts);
    q.into(unique_key, unique_ind).into(lease_owner, owner_ind).into(lease_until, lease_ind);
    q.into(last_error, error_ind).into(created_at).into(updated_at).into(finished_at, finished_ind);
  }
  Job job() const {
    Job j;
    j.id = id;
    j.kind = kind;
    j.payload = json::parse(payload, nullptr, false);
    if (j.payload.is_discarded()) j.payload = json::object();
    j.status = status;
    j.due_at = due_at;
    j.attempts = static_cast<int>(attempts);
    j.max_attempts = static_cast<int>(max_attempts);
    j.unique_key = storage::or_empty(unique_key, unique_ind);
    j.lease_owner = storage::or_empty(lease_owner, owner_ind);
    if (lease_ind == soci::i_ok) j.lease_until = lease_until;
    j.last_error = storage::or_empty(last_error, error_ind);
    j.created_at = created_at;
    j.updated_at = updated_at;
    if (finished_ind == soci::i_ok) j.finished_at = finished_at;
    return j;
  }
};

Result<Job> load(soci::session& sql, const std::string& id) {
  JobRow row;
  storage::DynamicQuery q(sql);
  q.text(std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ").param(id);
  row.bind(q);
  if (!q.execute()) return Error::not_found("job.not_found", "no job '" + id + "'");
  return row.job();
}

std::string clip(std::string s) {
  if (s.size() > kMaxErrorBytes) s.resize(kMaxErrorBytes);
  return s;
}

}  // namespace

bool is_job_status(std::string_view status) {
  return status == "scheduled" || status == "running" || status == "succeeded" || status == "failed";
}

std::int64_t JobScheduler::backoff_ms(std::int64_t base_ms, int attempt) {
  std::int64_t delay = std::max<std::int64_t>(base_ms, 1);
  for (int i = 1; i < attempt && delay < kMaxBackoffMs; ++i) delay *= 2;
  return std::min(delay, kMaxBackoffMs);
}

JobScheduler::JobScheduler(storage::Database& db, const Clock& clock, SchedulerOptions options)
    : db_(db), clock_(clock), options_(std::move(options)), workers_(options_.poll) {}

JobScheduler::~JobScheduler() { stop(); }

void JobScheduler::define(std::string kind, JobKind definition) { kinds_[std::move(kind)] = std::move(definition); }

Result<std::string> JobScheduler::schedule_in(soci::session& sql, const std::string& kind, const json& payload,
                                              std::int64_t due_at, const std::string& unique_key) {
  auto it = kinds_.find(kind);
  long long max_attempts = it == kinds_.end() ? 5 : std::max(1, it->second.max_attempts);
  std::string id = new_id("job"), text = payload.dump();
  long long now = clock_.now_ms(), due = due_at;
  soci::indicator key_ind = unique_key.empty() ? soci::i_null : soci::i_ok;
  std::string got;
  // A unique key already held by an unfinished job: the partial unique index refuses the row,
  // and DO NOTHING turns that into no row (no error, so the transaction goes on).
  sql << "INSERT INTO jobs (id, kind, payload, status, due_at, attempts, max_attempts, unique_key, created_at, "
         "updated_at) VALUES (:id, :k, :p, 'scheduled', :d, 0, :m, :u, :c, :c2) ON CONFLICT DO NOTHING RETURNING id",
      soci::use(id), soci::use(kind), soci::use(text), soci::use(due), soci::use(max_attempts),
      soci::use(unique_key, key_ind), soci::use(now), soci::use(now), soci::into(got);
  if (!sql.got_data()) return std::string();
  return id;
}

Result<std::string> JobScheduler::schedule(const std::string& kind, const json& payload, std::int64_t due_at,
                                           const std::string& unique_key) {
  auto id = db_.write<std::string>(
      [&](soci::session& sql) { return schedule_in(sql, kind, payload, due_at, unique_key); });
  if (id) workers_.notify();
  return id;
}

Result<Job> JobScheduler::get(const std::string& id) {
  return db_.read<Job>([&](soci::session& sql) { return load(sql, id); });
}

Result<JobPage> JobScheduler::list(const JobQuery& query) {
  if (!query.status.empty() && !is_job_status(query.status))
    return Error::invalid("validation_failed", "the request has invalid fields",
                          {{"status", "must be scheduled, running, succeeded or failed"}});
  return db_.read<JobPage>([&](soci::session& sql) -> Result<JobPage> {
    JobRow row;
    storage::DynamicQuery q(sql);
    q.text(std::string("SELECT ") + kColumns + " FROM jobs WHERE 1 = 1");
    if (!query.status.empty()) q.text(" AND status = ").param(query.status);
    if (!query.kind.empty()) q.text(" AND kind = ").param(query.kind);
    if (!query.cursor.empty()) q.text(" AND id < ").param(query.cursor);
    q.text(" ORDER BY id DESC LIMIT ").param(static_cast<long long>(query.limit) + 1);
    row.bind(q);
    JobPage page;
    for (bool got = q.execute(); got; got = q.fetch()) page.items.push_back(row.job());
    if (page.items.size() > static_cast<std::size_t>(query.limit)) {
      page.items.pop_back();
      page.next_cursor = page.items.back().id;
    }
    return page;
  });
}

Result<std::int64_t> JobScheduler::prune(std::int64_t before_ms, std::int64_t limit) {
  return storage::prune_finished(db_, "jobs", "finished_at", before_ms, limit);
}

Result<std::optional<Job>> JobScheduler::claim() {
  std::vector<std::string> kinds;
  for (const auto& [name, kind] : kinds_) kinds.push_back(name);
  const bool pg = db_.backend() == storage::Backend::postgresql;
  for (;;) {
    bool exhausted = false;
    auto claimed = db_.write<std::optional<Job>>([&](soci::session& sql) -> Result<std::optional<Job>> {
      exhausted = false;
      long long now = clock_.now_ms();
      std::string id;
      storage::DynamicQuery q(sql);
      // Due and waiting, or running under a lease that ran out (its node stopped).
      q.text("SELECT id FROM jobs WHERE ((status = 'scheduled' AND due_at <= ").param(now);
      q.text(") OR (status = 'running' AND lease_until < ").param(now);
      q.text(")) AND kind IN ").in_list(kinds).text(" ORDER BY due_at LIMIT 1");
      if (pg) q.text(" FOR UPDATE SKIP LOCKED");
      q.into(id);
      if (!q.execute()) return std::optional<Job>();
      QQ_ASSIGN_OR_RETURN(Job job, load(sql, id));
      const JobKind& kind = kinds_.at(job.kind);
      if (job.attempts >= job.max_attempts) {
        // Its last attempt was cut short (the node died): fail it now rather than run it again.
        exhausted = true;
        job.last_error = "the node running the last attempt stopped before it finished";
        long long finished = now;
        sql << "UPDATE jobs SET status = 'failed', finished_at = :f, updated_at = :u, lease_owner = NULL, "
               "lease_until = NULL, last_error = :e WHERE id = :id",
            soci::use(finished), soci::use(now), soci::use(job.last_error), soci::use(job.id);
        if (kind.every.count() > 0)
          QQ_TRY(schedule_in(sql, job.kind, job.payload, now + kind.every.count(), job.unique_key));
        return std::optional<Job>();
      }
      long long until = now + kind.lease.count();
      sql << "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = :o, lease_until = :l, "
             "updated_at = :u WHERE id = :id",
          soci::use(options_.node_id), soci::use(until), soci::use(now), soci::use(job.id);
      job.status = "running";
      job.attempts += 1;
      job.lease_owner = options_.node_id;
      job.lease_until = until;
      job.updated_at = now;
      return std::optional<Job>(std::move(job));
    });
    if (!claimed || !exhausted) return claimed;
  }
}

Status JobScheduler::finish(const Job& job, const Status& outcome) {
  const JobKind& kind = kinds_.at(job.kind);
  static thread_local std::minstd_rand jitter(std::random_device{}());
  return db_.write<Ok>([&](soci::session& sql) -> Result<Ok> {
    long long now = clock_.now_ms();
    long long attempts = job.attempts;
    std::string got;
    if (outcome.ok()) {
      sql << "UPDATE jobs SET status = 'succeeded', finished_at = :f, updated_at = :u, lease_owner = NULL, "
             "lease_until = NULL, last_error = NULL WHERE id = :id AND lease_owner = :o AND attempts = :a RETURNING id",
          soci::use(now), soci::use(now), soci::use(job.id), soci::use(options_.node_id), soci::use(attempts),
          soci::into(got);
    } else {
      std::string error = clip(outcome.error().code + ": " + outcome.error().message);
      if (job.attempts < job.max_attempts) {
        std::int64_t delay = backoff_ms(kind.retry_base.count(), job.attempts);
        delay -= static_cast<std::int64_t>(jitter() % static_cast<std::uint64_t>(delay / 2 + 1));
        long long due = now + delay;
        sql << "UPDATE jobs SET status = 'scheduled', due_at = :d, updated_at = :u, lease_owner = NULL, "
               "lease_until = NULL, last_error = :e WHERE id = :id AND lease_owner = :o AND attempts = :a RETURNING id",
            soci::use(due), soci::use(now), soci::use(error), soci::use(job.id), soci::use(options_.node_id),
            soci::use(attempts), soci::into(got);
        return Ok{};  // not finished: no next recurrence yet
      }
      sql << "UPDATE jobs SET status = 'failed', finished_at = :f, updated_at = :u, lease_owner = NULL, "
             "lease_until = NULL, last_error = :e WHERE id = :id AND lease_owner = :o AND attempts = :a RETURNING id",
          soci::use(now), soci::use(now), soci::use(error), soci::use(job.id), soci::use(options_.node_id),
          soci::use(attempts), soci::into(got);
    }
    // Another node took the job over (our lease ran out): its run decides what comes next.
    if (!sql.got_data()) return Ok{};
    if (kind.every.count() > 0) QQ_TRY(schedule_in(sql, job.kind, job.payload, now + kind.every.count(), job.unique_key));
    return Ok{};
  });
}

bool JobScheduler::run_once() {
  auto claimed = claim();
  if (!claimed || !*claimed) return false;
  const Job& job = **claimed;
  Status outcome = ok_status();
  try {
    outcome = kinds_.at(job.kind).run(job);
  } catch (const std::exception& e) {
    outcome = Error::internal("the job threw: " + std::string(e.what()));
  } catch (...) {
    outcome = Error::internal("the job threw an unknown exception");
  }
  for (int attempt = 0; attempt < 3 && !finish(job, outcome).ok(); ++attempt)
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * (attempt + 1)));
  return true;
}

void JobScheduler::start(int threads) {
  long long now = clock_.now_ms();
  for (const auto& [name, kind] : kinds_)
    if (kind.every.count() > 0) (void)schedule(name, json::object(), now, "recurring:" + name);
  if (kinds_.empty()) return;
  workers_.start(threads, [this] {
    return run_once() ? BackgroundWorkers::Pass::again : BackgroundWorkers::Pass::idle;
  });
}

void JobScheduler::stop() { workers_.stop(); }

}  // namespace quanqu::jobs
