// ElasticPool: a queue and a count of idle threads; a thread is made when a task finds none idle.
#include "plugins/isolation/elastic_pool.h"

#include <thread>

namespace quanqu::plugins {

struct ElasticPool::State {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> tasks;
  std::size_t threads = 0;
  std::size_t idle = 0;
  std::size_t max_threads = 1;
  std::chrono::milliseconds idle_timeout{30000};
  bool closing = false;
};

namespace {

void work(std::shared_ptr<ElasticPool::State> s) {
  std::unique_lock lock(s->mutex);
  for (;;) {
    while (s->tasks.empty()) {
      if (s->closing) {
        --s->threads;
        return;
      }
      ++s->idle;
      bool woke = s->wake.wait_for(lock, s->idle_timeout, [&] { return !s->tasks.empty() || s->closing; });
      --s->idle;
      if (!woke) {
        --s->threads;
        return;
      }
    }
    auto task = std::move(s->tasks.front());
    s->tasks.pop_front();
    lock.unlock();
    try {
      task();
    } catch (...) {  // a task must not throw; if it does, the thread carries on
    }
    task = nullptr;  // release what it captured outside the lock
    lock.lock();
  }
}

}  // namespace

ElasticPool::ElasticPool(std::size_t max_threads, std::chrono::milliseconds idle_timeout)
    : state_(std::make_shared<State>()) {
  state_->max_threads = max_threads ? max_threads : 1;
  state_->idle_timeout = idle_timeout;
}

ElasticPool::~ElasticPool() {
  std::lock_guard lock(state_->mutex);
  state_->closing = true;
  state_->wake.notify_all();
}

void ElasticPool::submit(std::function<void()> task) {
  bool spawn = false;
  {
    std::lock_guard lock(state_->mutex);
    state_->tasks.push_back(std::move(task));
    // Each idle thread takes one queued task; make a thread for what they cannot take.
    if (state_->tasks.size() > state_->idle && state_->threads < state_->max_threads) {
      ++state_->threads;
      spawn = true;
    }
  }
  if (spawn) {
    try {
      std::thread(work, state_).detach();
    } catch (...) {  // no thread to be had: the queued task waits for a running one
      std::lock_guard lock(state_->mutex);
      --state_->threads;
    }
  }
  state_->wake.notify_one();
}

}  // namespace quanqu::plugins
