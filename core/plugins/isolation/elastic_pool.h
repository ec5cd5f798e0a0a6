// Threads made on demand for blocking calls that must never wait for each other (one side of a runner connection).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace quanqu::plugins {

// Runs each submitted task at once on an idle thread, or on a new one while fewer than
// `max_threads` exist (a task may block on another task's outcome: a host call waits on a
// provider call that makes a host call, so tasks must not wait in line behind each other). At
// the cap, tasks queue. A thread idle for `idle_timeout` ends. Threads are detached and share
// the pool's state, so a task may outlive the pool object; thread-safe.
class ElasticPool {
 public:
  explicit ElasticPool(std::size_t max_threads, std::chrono::milliseconds idle_timeout = std::chrono::seconds(30));
  ~ElasticPool();  // idle threads end; tasks already queued still run
  ElasticPool(const ElasticPool&) = delete;
  ElasticPool& operator=(const ElasticPool&) = delete;

  void submit(std::function<void()> task);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace quanqu::plugins
