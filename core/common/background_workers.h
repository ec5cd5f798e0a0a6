// A few threads that repeat one unit of work, pausing when there is none until notified or a poll interval passes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace quanqu {

// The loop behind the job scheduler, the webhook senders and the outbox relay: each thread calls
// the work function; when it found nothing (or not enough) to do, the thread pauses until
// notify() or the poll interval, whichever comes first, then calls it again.
//
// Thread-safe. The work function runs on the worker threads, several at once when there are
// several; it must not call stop(). The owner stops the workers (its destructor calls stop())
// before anything the work function uses is destroyed.
class BackgroundWorkers {
 public:
  // What one call of the work function asks for next.
  enum class Pass {
    again,  // it did work and more may be waiting: call it again at once
    pause,  // pause until notify() or the poll interval (it did some work, or failed)
    idle,   // it found nothing to do: pause likewise; releases wait_until_idle()
  };

  explicit BackgroundWorkers(std::chrono::milliseconds poll);
  ~BackgroundWorkers();  // stop()
  BackgroundWorkers(const BackgroundWorkers&) = delete;
  BackgroundWorkers& operator=(const BackgroundWorkers&) = delete;

  // Starts max(1, threads) threads running `work`. A no-op while they run (the `work` given
  // is dropped); after stop(), starts them again.
  void start(int threads, std::function<Pass()> work);
  // Wakes the paused workers (new work was committed). Fine before start() and after stop().
  void notify();
  // Lets each thread finish the call in hand, then joins them all. Idempotent; a no-op when
  // never started. A stop() called while another is joining waits for it.
  void stop();
  // Wakes the workers and blocks until a call of the work function begun after this one
  // returned Pass::idle, or stop() began. Returns at once when the workers are not running.
  // With several threads, calls begun earlier may still be running when it returns.
  void wait_until_idle();

 private:
  void run();

  const std::chrono::milliseconds poll_;
  std::function<Pass()> work_;

  std::mutex mutex_;
  std::condition_variable wake_;  // workers pause on it
  std::condition_variable idle_;  // wait_until_idle() and a second stop() wait on it
  bool running_ = false;
  bool stopping_ = false;
  std::uint64_t notified_ = 0;        // bumped by notify()
  std::uint64_t passes_started_ = 0;  // calls of the work function begun
  std::uint64_t last_idle_pass_ = 0;  // the latest such call that returned Pass::idle
  std::vector<std::thread> threads_;
};

}  // namespace quanqu
