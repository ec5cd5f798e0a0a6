// Worker threads, a bounded queue and one timer thread that abandons calls at their deadline.
#include "plugins/call_pool.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace quanqu::plugins {

using Clock = std::chrono::steady_clock;

std::string_view to_string(CallOutcome outcome) {
  switch (outcome) {
    case CallOutcome::done:
      return "done";
    case CallOutcome::timed_out:
      return "timed_out";
    case CallOutcome::busy:
      return "busy";
  }
  return "busy";
}

namespace {

struct Call {
  enum class Phase { queued, running, finished, timed_out };
  std::string plugin;
  CallPool::Work work;
  CallPool::Completion completion;
  Phase phase = Phase::queued;
  std::multimap<Clock::time_point, std::shared_ptr<Call>>::iterator deadline;
};

void complete(const std::shared_ptr<Call>& call, CallOutcome outcome) noexcept {
  try {
    if (call->completion) call->completion(outcome);
  } catch (...) {
  }
  call->completion = nullptr;  // what it captured goes now, not when the work returns
}

struct Counters {
  std::uint64_t timeouts = 0;
  std::uint64_t refused = 0;
  std::size_t running = 0;
  std::size_t stuck = 0;
};

}  // namespace

// Everything the threads share. Workers hold it by shared_ptr: a stuck one may outlive the pool.
struct CallPool::State : std::enable_shared_from_this<CallPool::State> {
  CallPoolOptions options;
  mutable std::mutex mutex;
  std::condition_variable work_ready;  // workers wait for a call or stopping
  std::condition_variable timer_wake;  // the timer waits for the next deadline
  std::condition_variable serving_changed;
  std::deque<std::shared_ptr<Call>> queue;
  std::multimap<Clock::time_point, std::shared_ptr<Call>> deadlines;  // queued and running calls
  // When the timer wakes up next (max: not before it is notified). A call whose deadline is
  // later needs no notify, so the timer wakes about once per deadline, not once per call.
  Clock::time_point timer_wakes_at = Clock::time_point::max();
  std::map<std::string, Counters, std::less<>> plugins;
  int serving = 0;  // workers alive and not stuck
  std::size_t stuck_total = 0;
  std::size_t alive = 0;
  bool stopping = false;
  std::thread timer;

  // Under the lock.
  void start_worker() {
    ++serving;
    ++alive;
    std::thread([self = shared_from_this()] { self->work(); }).detach();
  }

  void work() {
    std::unique_lock lock(mutex);
    for (;;) {
      work_ready.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) break;  // stopping
      auto call = std::move(queue.front());
      queue.pop_front();
      call->phase = Call::Phase::running;
      ++plugins[call->plugin].running;
      lock.unlock();
      try {
        call->work();
      } catch (...) {  // the caller's wrapper contains plugin exceptions; this is a last resort
      }
      lock.lock();
      --plugins[call->plugin].running;
      if (call->phase == Call::Phase::running) {
        call->phase = Call::Phase::finished;
        deadlines.erase(call->deadline);
        lock.unlock();
        call->work = nullptr;
        complete(call, CallOutcome::done);
        lock.lock();
        continue;
      }
      // Abandoned at its deadline, and replaced if the caps allowed: serve again only if the
      // pool is short of workers, otherwise end.
      --plugins[call->plugin].stuck;
      --stuck_total;
      bool rejoin = !stopping && serving < options.threads;
      if (rejoin)
        ++serving;
      else
        --alive;
      lock.unlock();
      call->work = nullptr;  // its captures go outside the lock
      call.reset();
      if (!rejoin) return;
      lock.lock();
    }
    --serving;
    --alive;
    serving_changed.notify_all();
  }

  void run_timer() {
    std::unique_lock lock(mutex);
    for (;;) {
      if (stopping && serving == 0) return;
      if (deadlines.empty()) {
        timer_wakes_at = Clock::time_point::max();
        timer_wake.wait(lock);
        continue;
      }
      auto next = deadlines.begin()->first;
      if (Clock::now() < next) {
        timer_wakes_at = next;
        timer_wake.wait_until(lock, next);
        continue;
      }
      std::vector<std::shared_ptr<Call>> expired;
      auto now = Clock::now();
      while (!deadlines.empty() && deadlines.begin()->first <= now) {
        auto call = std::move(deadlines.begin()->second);
        deadlines.erase(deadlines.begin());
        Counters& c = plugins[call->plugin];
        ++c.timeouts;
        if (call->phase == Call::Phase::queued) {
          queue.erase(std::find(queue.begin(), queue.end(), call));
        } else {  // running: its worker is stuck with it from now on
          ++c.stuck;
          ++stuck_total;
          --serving;
          if (!stopping && serving < options.threads &&
              stuck_total <= static_cast<std::size_t>(options.max_stuck_total))
            start_worker();
          serving_changed.notify_all();
        }
        call->phase = Call::Phase::timed_out;
        expired.push_back(std::move(call));
      }
      lock.unlock();
      for (auto& call : expired) complete(call, CallOutcome::timed_out);
      expired.clear();
      lock.lock();
    }
  }
};

CallPool::CallPool(CallPoolOptions options) : state_(std::make_shared<State>()) {
  options.threads = std::max(1, options.threads);
  options.max_stuck_per_plugin = std::max(1, options.max_stuck_per_plugin);
  state_->options = options;
  std::lock_guard lock(state_->mutex);
  for (int i = 0; i < options.threads; ++i) state_->start_worker();
  state_->timer = std::thread([s = state_.get()] { s->run_timer(); });
}

CallPool::~CallPool() {
  State& s = *state_;
  std::deque<std::shared_ptr<Call>> refused;
  {
    std::unique_lock lock(s.mutex);
    s.stopping = true;
    refused.swap(s.queue);
    for (auto& call : refused) {
      s.deadlines.erase(call->deadline);
      call->phase = Call::Phase::finished;
    }
    s.work_ready.notify_all();
    s.timer_wake.notify_all();
  }
  for (auto& call : refused) complete(call, CallOutcome::busy);
  {
    // Running calls return or are abandoned by the timer at their deadline.
    std::unique_lock lock(s.mutex);
    s.serving_changed.wait(lock, [&] { return s.serving == 0; });
    s.timer_wake.notify_all();
  }
  s.timer.join();
}

void CallPool::submit(const std::string& plugin, std::chrono::milliseconds timeout, Work work, Completion completion) {
  auto call = std::make_shared<Call>();
  call->plugin = plugin;
  call->work = std::move(work);
  call->completion = std::move(completion);
  {
    State& s = *state_;
    std::lock_guard lock(s.mutex);
    auto counters = s.plugins.find(plugin);
    if (counters == s.plugins.end()) counters = s.plugins.emplace(plugin, Counters{}).first;
    bool refuse = s.stopping || s.queue.size() >= s.options.queue_limit ||
                  counters->second.stuck >= static_cast<std::size_t>(s.options.max_stuck_per_plugin);
    if (!refuse) {
      auto deadline = Clock::now() + std::max(timeout, std::chrono::milliseconds(0));
      call->deadline = s.deadlines.emplace(deadline, call);
      s.queue.push_back(call);
      s.work_ready.notify_one();
      if (deadline < s.timer_wakes_at) {
        s.timer_wakes_at = deadline;
        s.timer_wake.notify_one();
      }
      return;
    }
    ++counters->second.refused;
  }
  complete(call, CallOutcome::busy);
}

CallOutcome CallPool::run(const std::string& plugin, std::chrono::milliseconds timeout, Work work) {
  struct Wait {
    std::mutex mutex;
    std::condition_variable cv;
    std::optional<CallOutcome> outcome;
  };
  auto wait = std::make_shared<Wait>();
  submit(plugin, timeout, std::move(work), [wait](CallOutcome outcome) {
    std::lock_guard lock(wait->mutex);
    wait->outcome = outcome;
    wait->cv.notify_all();
  });
  std::unique_lock lock(wait->mutex);
  wait->cv.wait(lock, [&] { return wait->outcome.has_value(); });
  return *wait->outcome;
}

std::vector<CallPool::PluginStats> CallPool::stats() const {
  std::lock_guard lock(state_->mutex);
  std::vector<PluginStats> out;
  out.reserve(state_->plugins.size());
  for (const auto& [name, c] : state_->plugins) out.push_back({name, c.timeouts, c.refused, c.running, c.stuck});
  return out;
}

std::size_t CallPool::stuck() const {
  std::lock_guard lock(state_->mutex);
  return state_->stuck_total;
}

std::size_t CallPool::queued() const {
  std::lock_guard lock(state_->mutex);
  return state_->queue.size();
}

std::size_t CallPool::threads() const {
  std::lock_guard lock(state_->mutex);
  return state_->alive;
}

}  // namespace quanqu::plugins
