// The plugin call pool: deadlines in the queue and while running, stuck calls replaced and bounded, refusals.
#include "plugins/call_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using quanqu::plugins::CallOutcome;
using quanqu::plugins::CallPool;
using quanqu::plugins::CallPoolOptions;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A gate that work waits on until the test opens it; shared, so abandoned work may outlive the test body.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};
  std::atomic<int> left{0};

  void wait() {
    ++entered;
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return open; });
    ++left;
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Waits until `pool` holds no stuck call, so that nothing outlives the test.
void settle(const CallPool& pool) {
  auto until = Clock::now() + 5s;
  while (pool.stuck() > 0 && Clock::now() < until) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(pool.stuck(), 0u);
}

CallPool::PluginStats stats_of(const CallPool& pool, const std::string& plugin) {
  for (const auto& s : pool.stats())
    if (s.plugin == plugin) return s;
  return {};
}

TEST(CallPool, RunsWorkAndReportsDone) {
  CallPool pool({2, 8, 2, 8});
  std::atomic<int> ran{0};
  EXPECT_EQ(pool.run("a", 1000ms, [&] { ++ran; }), CallOutcome::done);
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(stats_of(pool, "a").timeouts, 0u);
}

TEST(CallPool, ACallPastItsDeadlineTimesOutAtTheDeadlineAndKeepsRunning) {
  CallPool pool({2, 8, 2, 8});
  auto gate = std::make_shared<Gate>();
  auto start = Clock::now();
  EXPECT_EQ(pool.run("slow", 100ms, [gate] { gate->wait(); }), CallOutcome::timed_out);
  double took = ms_since(start);
  EXPECT_GE(took, 95.0);
  EXPECT_LT(took, 1000.0);
  EXPECT_EQ(gate->left, 0);  // abandoned, not killed
  auto stats = stats_of(pool, "slow");
  EXPECT_EQ(stats.timeouts, 1u);
  EXPECT_EQ(stats.stuck, 1u);
  EXPECT_EQ(stats.running, 1u);
  // The stuck worker was replaced: the pool still serves its two calls at once.
  auto other = std::make_shared<Gate>();
  std::atomic<int> done{0};
  std::thread t1([&] { done += pool.run("b", 2000ms, [other] { other->wait(); }) == CallOutcome::done; });
  std::thread t2([&] { done += pool.run("b", 2000ms, [other] { other->wait(); }) == CallOutcome::done; });
  while (other->entered < 2) std::this_thread::sleep_for(1ms);
  other->release();
  t1.join();
  t2.join();
  EXPECT_EQ(done, 2);
  gate->release();
  settle(pool);
  EXPECT_EQ(stats_of(pool, "slow").running, 0u);
}

TEST(CallPool, TheCompletionIsCalledExactlyOnceEvenWhenTheWorkReturnsLate) {
  CallPool pool({1, 8, 2, 8});
  auto gate = std::make_shared<Gate>();
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto outcome = std::make_shared<std::atomic<int>>(-1);
  pool.submit(
      "p", 50ms, [gate] { gate->wait(); },
      [calls, outcome](CallOutcome o) {
        ++*calls;
        *outcome = static_cast<int>(o);
      });
  auto until = Clock::now() + 2s;
  while (*calls == 0 && Clock::now() < until) std::this_thread::sleep_for(1ms);
  gate->release();
  settle(pool);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(*calls, 1);
  EXPECT_EQ(*outcome, static_cast<int>(CallOutcome::timed_out));
}

TEST(CallPool, TheWaitInTheQueueCountsAgainstTheDeadline) {
  CallPool pool({1, 8, 4, 8});
  auto gate = std::make_shared<Gate>();
  std::thread holder([&] { pool.run("a", 2000ms, [gate] { gate->wait(); }); });
  while (gate->entered < 1) std::this_thread::sleep_for(1ms);
  std::atomic<bool> ran{false};
  auto start = Clock::now();
  EXPECT_EQ(pool.run("b", 100ms, [&ran] { ran = true; }), CallOutcome::timed_out);
  EXPECT_LT(ms_since(start), 1000.0);
  gate->release();
  holder.join();
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(ran);  // a call that timed out in the queue never runs
  EXPECT_EQ(stats_of(pool, "b").timeouts, 1u);
  EXPECT_EQ(stats_of(pool, "b").stuck, 0u);
}

TEST(CallPool, AFullQueueRefusesAtOnce) {
  CallPool pool({1, 2, 4, 8});
  auto gate = std::make_shared<Gate>();
  std::vector<std::thread> waiting;
  std::atomic<int> done{0};
  auto call_a = [&] { done += pool.run("a", 5000ms, [gate] { gate->wait(); }) == CallOutcome::done; };
  // One running first, then two queued: submitted together, the third could find the first
  // still queued (its worker not yet awake) and be refused.
  waiting.emplace_back(call_a);
  auto until = Clock::now() + 4s;
  while (gate->entered < 1 && Clock::now() < until) std::this_thread::sleep_for(1ms);
  for (int i = 0; i < 2; ++i) waiting.emplace_back(call_a);
  while (pool.queued() < 2 && Clock::now() < until) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(pool.queued(), 2u);
  auto start = Clock::now();
  EXPECT_EQ(pool.run("b", 5000ms, [] {}), CallOutcome::busy);
  EXPECT_LT(ms_since(start), 2000.0);  // at once, not at the 5 s deadline (a loaded machine may be slow)
  EXPECT_EQ(stats_of(pool, "b").refused, 1u);
  gate->release();
  for (auto& t : waiting) t.join();
  EXPECT_EQ(done, 3);
}

TEST(CallPool, APluginHoldingItsShareOfStuckCallsIsRefusedWhileOthersAreServed) {
  CallPool pool({2, 8, 2, 8});
  auto gate = std::make_shared<Gate>();
  EXPECT_EQ(pool.run("stuck", 30ms, [gate] { gate->wait(); }), CallOutcome::timed_out);
  EXPECT_EQ(pool.run("stuck", 30ms, [gate] { gate->wait(); }), CallOutcome::timed_out);
  EXPECT_EQ(pool.run("stuck", 1000ms, [] {}), CallOutcome::busy);
  EXPECT_EQ(pool.run("other", 1000ms, [] {}), CallOutcome::done);
  EXPECT_EQ(pool.stuck(), 2u);
  EXPECT_EQ(pool.threads(), 4u);  // two serving, two stuck
  gate->release();
  settle(pool);
  EXPECT_EQ(pool.run("stuck", 1000ms, [] {}), CallOutcome::done);  // its share is free again
  auto until = Clock::now() + 2s;
  while (pool.threads() > 2 && Clock::now() < until) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(pool.threads(), 2u);  // the stuck workers ended once their calls returned
}

TEST(CallPool, StuckWorkersAreNotReplacedBeyondTheTotalCap) {
  CallPool pool({1, 8, 4, 1});
  auto gate = std::make_shared<Gate>();
  EXPECT_EQ(pool.run("a", 20ms, [gate] { gate->wait(); }), CallOutcome::timed_out);  // replaced
  EXPECT_EQ(pool.run("b", 20ms, [gate] { gate->wait(); }), CallOutcome::timed_out);  // not replaced
  EXPECT_EQ(pool.threads(), 2u);
  EXPECT_EQ(pool.run("c", 50ms, [] {}), CallOutcome::timed_out);  // no worker serves
  gate->release();
  settle(pool);
}

TEST(CallPool, DestructionRefusesQueuedCallsAndDoesNotWaitForStuckOnes) {
  auto gate = std::make_shared<Gate>();
  auto outcomes = std::make_shared<std::vector<CallOutcome>>();
  auto mutex = std::make_shared<std::mutex>();
  auto record = [outcomes, mutex](CallOutcome o) {
    std::lock_guard lock(*mutex);
    outcomes->push_back(o);
  };
  auto start = Clock::now();
  {
    CallPool pool({1, 8, 4, 8});
    pool.submit(
        "a", 50ms, [gate] { gate->wait(); }, record);  // will be stuck
    while (gate->entered < 1) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(100ms);  // past its deadline; a replacement serves
    auto second = std::make_shared<Gate>();
    pool.submit(
        "b", 10000ms, [second] { second->wait(); }, record);  // running at destruction
    pool.submit(
        "c", 10000ms, [] {}, record);  // queued at destruction
    while (second->entered < 1) std::this_thread::sleep_for(1ms);
    std::thread opener([second] {
      std::this_thread::sleep_for(100ms);
      second->release();
    });
    opener.detach();
  }
  EXPECT_LT(ms_since(start), 2000.0);
  {
    std::lock_guard lock(*mutex);
    ASSERT_EQ(outcomes->size(), 3u);
    EXPECT_EQ((*outcomes)[0], CallOutcome::timed_out);
    EXPECT_EQ((*outcomes)[1], CallOutcome::busy);  // "c", refused when the pool went
    EXPECT_EQ((*outcomes)[2], CallOutcome::done);  // "b" finished
  }
  gate->release();  // the stuck worker ends on its own, holding the pool's state alive
  std::this_thread::sleep_for(50ms);
}

}  // namespace
