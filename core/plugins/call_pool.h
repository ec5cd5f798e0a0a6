// The bounded pool of threads every plugin call runs on, each call with a deadline.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace quanqu::plugins {

// How a call submitted to the pool ended, as its completion is told.
enum class CallOutcome {
  done,       // the work ran and returned before its deadline
  timed_out,  // the deadline passed first, in the queue or while running; the work is abandoned
  busy,       // refused at once: the queue is full, the plugin holds too many stuck calls, or the pool is stopping
};

struct CallPoolOptions {
  int threads = 16;               // workers serving calls (at least 1)
  std::size_t queue_limit = 256;  // calls waiting for a worker; one more is refused (busy)
  int max_stuck_per_plugin = 4;   // calls past their deadline a plugin may hold; its new calls are refused beyond
  int max_stuck_total = 64;       // beyond this many stuck calls, a stuck worker is no longer replaced
};

// Runs plugin calls on its own threads, so that the callers (HTTP io threads, the event thread,
// a checkout) never wait on a plugin longer than its deadline. In-process code cannot be
// preempted: a call still running at its deadline is *abandoned*, not killed. Its completion
// says timed_out at the deadline; the worker stays with the call until it returns (it is then
// "stuck"), is replaced by a new worker so that `threads` keep serving, and ends once the call
// returns, discarding the result. A plugin holding max_stuck_per_plugin stuck calls gets its new
// calls refused (busy) until some return.
//
// Work and completions must own everything they touch (shared pointers, copies): an abandoned
// call outlives its caller's stack frame and possibly the pool. Thread-safe.
class CallPool {
 public:
  using Work = std::function<void()>;
  using Completion = std::function<void(CallOutcome)>;

  explicit CallPool(CallPoolOptions options = {});
  // Refuses new calls, times out the queued ones (their completions say busy), waits for the
  // running ones to return or reach their deadline, and returns without waiting for stuck ones.
  ~CallPool();
  CallPool(const CallPool&) = delete;
  CallPool& operator=(const CallPool&) = delete;

  // Queues `work` for `plugin` with a deadline `timeout` from now (the wait in the queue counts).
  // `completion` is called exactly once, never under a lock of the pool: with busy before
  // submit returns; with done on the worker right after the work returned; with timed_out on
  // the pool's timer thread at the deadline. Neither may throw (a throw is swallowed).
  void submit(const std::string& plugin, std::chrono::milliseconds timeout, Work work, Completion completion);

  // submit() and wait for the outcome: returns when the work returned, the deadline passed or
  // the call was refused. Only `done` means the work ran to its end.
  CallOutcome run(const std::string& plugin, std::chrono::milliseconds timeout, Work work);

  struct PluginStats {
    std::string plugin;
    std::uint64_t timeouts = 0;  // calls that reached their deadline
    std::uint64_t refused = 0;   // calls refused as busy
    std::size_t running = 0;     // calls running now, stuck ones included
    std::size_t stuck = 0;       // abandoned calls still running now
  };
  // Every plugin that has submitted a call, in name order.
  std::vector<PluginStats> stats() const;

  // Abandoned calls still running now, over every plugin.
  std::size_t stuck() const;

  // Calls waiting for a worker now.
  std::size_t queued() const;

  // The number of worker threads alive now (serving and stuck).
  std::size_t threads() const;

  struct State;  // shared with the worker threads, which may outlive the pool (call_pool.cpp)

 private:
  std::shared_ptr<State> state_;
};

std::string_view to_string(CallOutcome outcome);

}  // namespace quanqu::plugins
