// Threads for the handlers of routes that wait on plugin calls (payment and fulfilment providers).
#pragma once

#include "http/message.h"

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstddef>
#include <functional>

namespace quanqu::api {

// A provider call runs on the plugin call pool with a deadline, but the handler that asked for
// it waits for its answer. Handlers that may wait like this run here rather than on the server's
// io threads, so that however slow the plugins are, every other route keeps answering.
// Thread-safe.
class HandlerPool {
 public:
  // `threads` handlers run at once; up to `max_waiting` more wait for a thread, beyond which a
  // request is answered 503 `plugin_busy` (Retry-After: 1) at once.
  HandlerPool(int threads, std::size_t max_waiting);
  // Waits for the handlers running or waiting; each ends by its plugin deadline.
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // A deferred response (http::Response::deferred) that runs `handler` on a copy of `request` on
  // this pool and answers with what it returns (a 500 problem when it throws).
  http::Response defer(const http::Request& request, std::function<http::Response(http::Request&)> handler);

  std::size_t busy() const { return busy_.load(std::memory_order_relaxed); }

 private:
  boost::asio::thread_pool threads_;
  const std::size_t limit_;
  std::atomic<std::size_t> busy_{0};  // running or waiting for a thread
};

}  // namespace quanqu::api
