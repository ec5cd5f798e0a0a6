// Runs handlers that wait on plugin calls on their own threads, answering through deferred responses.
#include "routes/handler_pool.h"
#include "http/problem.h"

#include <boost/asio/post.hpp>

#include <memory>
#include <utility>

namespace quanqu::api {

HandlerPool::HandlerPool(int threads, std::size_t max_waiting)
    : threads_(static_cast<std::size_t>(threads)), limit_(static_cast<std::size_t>(threads) + max_waiting) {}

HandlerPool::~HandlerPool() {
  threads_.join();
}

http::Response HandlerPool::defer(const http::Request& request, std::function<http::Response(http::Request&)> handler) {
  http::Response r;
  r.deferred = [this, request, handler = std::move(handler)](http::Response::Completion complete) mutable {
    if (busy_.fetch_add(1, std::memory_order_relaxed) >= limit_) {
      busy_.fetch_sub(1, std::memory_order_relaxed);
      return complete(http::problem(Error::make(ErrorKind::unavailable, "plugin_busy",
                                                "too many requests are waiting for plugins now; retry shortly",
                                                nlohmann::json{{"retry_after", 1}})));
    }
    boost::asio::post(threads_, [this, request = std::move(request), handler = std::move(handler),
                                 complete = std::move(complete)]() mutable {
      http::Response out;
      try {
        out = handler(request);
      } catch (...) {
        out = http::problem(Error::internal("unexpected error"));
      }
      busy_.fetch_sub(1, std::memory_order_relaxed);
      complete(std::move(out));
    });
  };
  return r;
}

}  // namespace quanqu::api
