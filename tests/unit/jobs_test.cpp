// Unit tests for the job scheduler: running due jobs, retries with back-off, recurrence, leases across two nodes.
#include "core_test_support.h"
#include "jobs/job_scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

namespace quanqu::jobs {
namespace {

using nlohmann::json;
using test_support::CoreEnv;
using test_support::describe;

std::unique_ptr<JobScheduler> scheduler(CoreEnv& env, const std::string& node) {
  SchedulerOptions o;
  o.node_id = node;
  o.poll = std::chrono::milliseconds(10);
  return std::make_unique<JobScheduler>(env.db(), env.clock, o);
}

TEST(JobScheduler, RunsADueJobOnceAndRecordsTheOutcome) {
  CoreEnv env;
  auto s = scheduler(env, "node_a");
  std::vector<json> seen;
  s->define("test.echo", {[&](const Job& j) {
                            seen.push_back(j.payload);
                            return ok_status();
                          }});
  auto id = s->schedule("test.echo", {{"x", 1}}, env.clock.now_ms() + 1000);
  ASSERT_TRUE(id.ok()) << describe(id);
  EXPECT_FALSE(s->run_once());  // not due
  env.clock.advance(1000);
  EXPECT_TRUE(s->run_once());
  EXPECT_FALSE(s->run_once());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]["x"], 1);
  auto job = s->get(*id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->status, "succeeded");
  EXPECT_EQ(job->attempts, 1);
  EXPECT_TRUE(job->finished_at.has_value());
  EXPECT_TRUE(job->lease_owner.empty());
}

TEST(JobScheduler, AFailingJobIsRetriedWithBackOffThenFailed) {
  CoreEnv env;
  auto s = scheduler(env, "node_a");
  JobKind k;
  k.max_attempts = 3;
  k.retry_base = std::chrono::milliseconds(1000);
  int runs = 0;
  k.run = [&](const Job&) -> Status {
    ++runs;
    if (runs == 2) throw std::runtime_error("boom");
    return Error::internal("not today");
  };
  s->define("test.flaky", k);
  auto id = *s->schedule("test.flaky", json::object(), env.clock.now_ms());
  EXPECT_TRUE(s->run_once());
  auto job = *s->get(id);
  EXPECT_EQ(job.status, "scheduled");
  EXPECT_EQ(job.last_error, "internal: not today");
  std::int64_t wait = job.due_at - env.clock.now_ms();
  EXPECT_GE(wait, 500);
  EXPECT_LE(wait, 1000);
  EXPECT_FALSE(s->run_once());
  env.clock.advance(wait);
  EXPECT_TRUE(s->run_once());
  job = *s->get(id);
  EXPECT_EQ(job.last_error, "internal: the job threw: boom");
  env.clock.advance(2000);
  EXPECT_TRUE(s->run_once());
  job = *s->get(id);
  EXPECT_EQ(job.status, "failed");
  EXPECT_EQ(job.attempts, 3);
  EXPECT_EQ(runs, 3);
  env.clock.advance(100'000);
  EXPECT_FALSE(s->run_once());

  auto failed = s->list({"failed", "", 20, ""});
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->items.size(), 1u);
  EXPECT_FALSE(s->list({"lost", "", 20, ""}).ok());
}

TEST(JobScheduler, ARecurringJobSchedulesItsNextRunAndAUniqueKeyIsHeldOnce) {
  CoreEnv env;
  auto s = scheduler(env, "node_a");
  JobKind k;
  k.every = std::chrono::minutes(10);
  int runs = 0;
  k.run = [&](const Job&) {
    ++runs;
    return ok_status();
  };
  s->define("test.tick", k);
  s->start();
  for (int i = 0; i < 200 && runs == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  s->stop();
  EXPECT_EQ(runs, 1);
  auto page = *s->list({"", "test.tick", 20, ""});
  ASSERT_EQ(page.items.size(), 2u);
  std::map<std::string, Job> by_status;
  for (const auto& j : page.items) by_status[j.status] = j;
  ASSERT_EQ(by_status.count("scheduled"), 1u);  // the next run
  EXPECT_EQ(by_status["scheduled"].due_at, env.clock.now_ms() + 600'000);
  EXPECT_EQ(by_status["scheduled"].unique_key, "recurring:test.tick");
  EXPECT_EQ(by_status.count("succeeded"), 1u);
  // The key is taken while that run is unfinished.
  auto again = s->schedule("test.tick", json::object(), env.clock.now_ms(), "recurring:test.tick");
  ASSERT_TRUE(again.ok()) << describe(again);
  EXPECT_TRUE(again->empty());
}

TEST(JobScheduler, TwoNodesRunEachJobOnceAndAnExpiredLeaseIsTakenOver) {
  CoreEnv env;
  std::mutex m;
  std::map<std::string, int> runs;
  auto a = scheduler(env, "node_a"), b = scheduler(env, "node_b");
  for (auto* s : {a.get(), b.get()})
    s->define("test.count", {[&](const Job& j) {
                std::lock_guard lock(m);
                ++runs[j.id];
                return ok_status();
              }});
  constexpr int kJobs = 60;
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(a->schedule("test.count", json::object(), env.clock.now_ms()).ok());
  a->start(2);
  b->start(2);
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(m);
      if (runs.size() == kJobs) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  a->stop();
  b->stop();
  ASSERT_EQ(runs.size(), static_cast<std::size_t>(kJobs));
  for (const auto& [id, n] : runs) EXPECT_EQ(n, 1) << id;

  // A job left running by a node that died is run again once its lease is over.
  auto id = *a->schedule("test.count", json::object(), env.clock.now_ms());
  long long until = env.clock.now_ms() + 60'000;
  ASSERT_TRUE(env.db().write<Ok>([&](soci::session& sql) -> Result<Ok> {
    sql << "UPDATE jobs SET status = 'running', attempts = 1, lease_owner = 'node_dead', lease_until = :u WHERE id = :id",
        soci::use(until), soci::use(id);
    return Ok{};
  }).ok());
  EXPECT_FALSE(b->run_once());
  env.clock.advance(60'001);
  EXPECT_TRUE(b->run_once());
  auto job = *b->get(id);
  EXPECT_EQ(job.status, "succeeded");
  EXPECT_EQ(job.attempts, 2);
}

TEST(JobScheduler, PruneDeletesFinishedJobsOlderThanTheCutOff) {
  CoreEnv env;
  auto s = scheduler(env, "node_a");
  s->define("test.noop", {[](const Job&) { return ok_status(); }});
  ASSERT_TRUE(s->schedule("test.noop", json::object(), env.clock.now_ms()).ok());
  EXPECT_TRUE(s->run_once());
  ASSERT_TRUE(s->schedule("test.noop", json::object(), env.clock.now_ms() + 999'999).ok());
  env.clock.advance(10);
  auto pruned = s->prune(env.clock.now_ms(), 100);
  ASSERT_TRUE(pruned.ok()) << describe(pruned);
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM jobs"), 1);
}

}  // namespace
}  // namespace quanqu::jobs
