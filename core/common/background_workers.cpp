// The worker loop: one pass of work, then a pause until notified or the poll interval, until stopped.
#include "common/background_workers.h"

#include <algorithm>

namespace quanqu {

BackgroundWorkers::BackgroundWorkers(std::chrono::milliseconds poll) : poll_(poll) {}

BackgroundWorkers::~BackgroundWorkers() { stop(); }

void BackgroundWorkers::start(int threads, std::function<Pass()> work) {
  std::lock_guard lock(mutex_);
  if (running_) return;
  running_ = true;
  work_ = std::move(work);
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { run(); });
}

void BackgroundWorkers::notify() {
  {
    std::lock_guard lock(mutex_);
    ++notified_;
  }
  wake_.notify_all();
}

void BackgroundWorkers::stop() {
  std::vector<std::thread> threads;
  {
    std::unique_lock lock(mutex_);
    if (stopping_) {  // another stop() is joining: wait for it rather than join twice
      idle_.wait(lock, [&] { return !stopping_; });
      return;
    }
    if (!running_) return;
    stopping_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  idle_.notify_all();
  for (auto& t : threads) t.join();
  {
    std::lock_guard lock(mutex_);
    running_ = false;
    stopping_ = false;  // start() may run them again
  }
  idle_.notify_all();
}

void BackgroundWorkers::wait_until_idle() {
  std::unique_lock lock(mutex_);
  if (!running_ || stopping_) return;
  std::uint64_t after = passes_started_;
  ++notified_;
  wake_.notify_all();
  idle_.wait(lock, [&] { return last_idle_pass_ > after || !running_ || stopping_; });
}

void BackgroundWorkers::run() {
  for (;;) {
    std::uint64_t seen = 0, pass = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      seen = notified_;
      pass = ++passes_started_;
    }
    Pass next = work_();
    if (next == Pass::again) continue;
    std::unique_lock lock(mutex_);
    if (next == Pass::idle) {
      last_idle_pass_ = std::max(last_idle_pass_, pass);
      idle_.notify_all();
    }
    // A notify() since this pass began means new work may have come after it looked: no pause.
    wake_.wait_for(lock, poll_, [&] { return stopping_ || notified_ != seen; });
  }
}

}  // namespace quanqu
