// Unit tests for BackgroundWorkers: start and stop, notify waking a paused worker, wait_until_idle.
#include "common/background_workers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace quanqu {
namespace {

using namespace std::chrono_literals;
using Pass = BackgroundWorkers::Pass;

// Waits up to `limit` for `done()`; true when it came.
template <typename F>
bool eventually(F done, std::chrono::milliseconds limit = 5s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(BackgroundWorkersTest, StopIsSafeWhenNeverStartedAndIdempotent) {
  BackgroundWorkers workers(10ms);
  workers.stop();
  workers.stop();
  workers.notify();           // fine without workers
  workers.wait_until_idle();  // returns at once when not running
}

TEST(BackgroundWorkersTest, NotifyWakesAPausedWorkerBeforeThePollInterval) {
  BackgroundWorkers workers(1h);
  std::atomic<int> passes{0};
  workers.start(1, [&] {
    ++passes;
    return Pass::idle;
  });
  ASSERT_TRUE(eventually([&] { return passes.load() >= 1; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(passes.load(), 1);  // paused: the poll interval is an hour
  workers.notify();
  EXPECT_TRUE(eventually([&] { return passes.load() >= 2; }));
  workers.stop();
}

TEST(BackgroundWorkersTest, PollsWithoutNotifyAndRunsAgainAtOnceAfterWork) {
  BackgroundWorkers workers(5ms);
  std::atomic<int> passes{0};
  workers.start(1, [&] { return ++passes < 3 ? Pass::again : Pass::idle; });
  EXPECT_TRUE(eventually([&] { return passes.load() >= 5; }));  // the later ones by polling
  workers.stop();
}

TEST(BackgroundWorkersTest, StartWhileRunningIsANoOpAndStartAfterStopRunsAgain) {
  BackgroundWorkers workers(1h);
  std::atomic<int> first{0}, second{0};
  workers.start(2, [&] {
    ++first;
    return Pass::idle;
  });
  ASSERT_TRUE(eventually([&] { return first.load() >= 2; }));  // one pass a thread
  workers.start(1, [&] {
    ++second;
    return Pass::idle;
  });
  workers.notify();
  ASSERT_TRUE(eventually([&] { return first.load() >= 4; }));
  EXPECT_EQ(second.load(), 0);
  workers.stop();
  workers.start(1, [&] {
    ++second;
    return Pass::idle;
  });
  EXPECT_TRUE(eventually([&] { return second.load() >= 1; }));
  workers.stop();
}

TEST(BackgroundWorkersTest, WaitUntilIdleReturnsAfterAPassBegunLaterFoundNothing) {
  BackgroundWorkers workers(10ms);  // after a pass that paused, the next one comes by polling
  std::atomic<int> pending{0}, done{0};
  workers.start(1, [&] {
    if (pending.load() == 0) return Pass::idle;
    --pending;
    ++done;
    return Pass::pause;  // did work, but is not idle: wait_until_idle() needs a further pass
  });
  workers.wait_until_idle();
  pending = 3;
  workers.wait_until_idle();
  EXPECT_EQ(done.load(), 3);
  EXPECT_EQ(pending.load(), 0);
  workers.stop();
}

}  // namespace
}  // namespace quanqu
