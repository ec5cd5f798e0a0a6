// The HTTP/1.1 server: accepts connections and turns each request into one handler call.
#pragma once

#include "http/log.h"
#include "http/message.h"
#include "http/metrics.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu::http {

namespace detail {
struct ServerImpl;  // Beast and Asio state, defined in server.cpp
}

struct ServerOptions {
  std::string host = "127.0.0.1";  // an IP address or a resolvable host name
  unsigned short port = 8080;      // 0 picks a free port; see Server::port()
  int threads = 2;                 // io threads (at least 1); handlers run on them: the handler pool
  std::size_t body_limit = 1 << 20;
  // A connection's first request must arrive (headers and body) within header_timeout. Between
  // keep-alive requests a connection may stay silent for idle_timeout; once the next request's
  // first byte arrives, the rest of it must arrive within header_timeout. A response must be
  // written within idle_timeout.
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds idle_timeout{30};
  // Origins allowed by CORS ("https://shop.example", or "*" for any). Empty: no CORS headers.
  std::vector<std::string> cors_origins;
  // How long a graceful stop may take: past it, run() stops the io threads without waiting for
  // the requests still in flight (see run()).
  std::chrono::milliseconds shutdown_grace{10000};
};

// What the server does around the handler, per request:
//  * the request is converted to a Request: method upper-case, path percent-decoded without the
//    query, query decoded as application/x-www-form-urlencoded (last value wins), header names
//    lower-cased, remote address set. A target that cannot be decoded is a 400 problem
//    ("malformed_request") and the handler is not called.
//  * request_id is the incoming X-Request-Id when it is 1..128 chars of [A-Za-z0-9._-],
//    otherwise 32 random hex digits; every response carries it back in X-Request-Id.
//  * a body over body_limit is a 413 problem ("payload_too_large") and the connection is closed.
//    A request Beast cannot parse is a 400 problem ("malformed_request"), then closed.
//  * "Expect: 100-continue" is answered before the body is read.
//  * the handler is called synchronously on an io thread, concurrently from several threads
//    for different connections (so it must be thread-safe); it may block, occupying that
//    thread. If it throws, the response is a 500 problem ("internal") and the server carries on.
//    A handler that must wait for something slow (a plugin) returns a deferred Response instead
//    (Response::deferred) and answers from another thread, leaving the io thread free; the
//    connection then waits for that answer, and everything below applies to it.
//  * CORS: when the Origin header matches cors_origins, responses get
//    Access-Control-Allow-Origin (that origin), Vary: Origin and Access-Control-Expose-Headers:
//    X-Request-Id; an OPTIONS request with such an Origin is answered 204 by the server
//    itself (preflight) without calling the handler.
//  * the response gets Content-Type (unless the Response's content_type is empty), its headers
//    (except Content-Length, Transfer-Encoding and Connection, which the server owns; CR and LF
//    in values become spaces), Content-Length (not for 204/304, which carry no body), Date and
//    "Server: quanqu"; HEAD responses are sent without their body. A handler status outside
//    200..599 becomes a 500 problem.
//  * request headers are limited to Beast's default 8 KiB; more is a 400 problem.
//  * HTTP/1.1 keep-alive; one request is handled at a time per connection (pipelined requests
//    wait in the read buffer).
//  * once the response is written: metrics.observe(method, route, status, seconds from the
//    request being read to the response written) and logger.access(...). Protocol errors
//    (400/413) are counted and logged too, with route "".
// Connection-level errors (resets, timeouts) are logged at debug level and never throw.
class Server {
 public:
  // `handler`, `metrics` and `logger` must outlive the Server.
  Server(ServerOptions options, std::function<Response(Request&)> handler, Metrics& metrics, Logger& logger);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. Throws std::runtime_error with a clear message ("cannot listen on
  // 127.0.0.1:8080: Address already in use") if the address is taken or invalid. Call once.
  void start();

  // The bound port (the real one when options.port was 0). Valid after start().
  unsigned short port() const;

  // Makes SIGINT and SIGTERM call stop(). Call before run(); the signal handlers are owned by
  // the server and removed when it stops.
  void stop_on_signals();

  // Runs the server on options.threads threads (the calling thread is one of them) and blocks
  // until stop() has finished: no more connections accepted, every in-flight request answered
  // (deferred ones included), every connection closed and every thread joined. Returns true
  // then. If that takes longer than options.shutdown_grace after stop() began, the io threads
  // are stopped with requests still in flight (logged: "shutdown grace period over"), joined
  // once their current handler returns, and run() returns false: the Server must then not be
  // destroyed while a deferred response may still complete (exit the process instead). Call
  // once, after start().
  bool run();

  // When a graceful stop must be over: stop() began + options.shutdown_grace (now + the grace
  // before stop()). The caller bounds its own shutdown work after run() with it.
  std::chrono::steady_clock::time_point stop_deadline() const;

  // Graceful stop: stops accepting, closes idle keep-alive connections at once, lets requests
  // being read or handled finish (their responses carry "Connection: close"), then run()
  // returns. A request still being received is bounded by header_timeout, a response write by
  // idle_timeout, the whole by shutdown_grace (see run()), except that a synchronous handler
  // that never returns still keeps its io thread from being joined. Thread-safe, idempotent,
  // and may be called before run() (run() then returns as soon as in-flight work is done). Not
  // async-signal-safe: from a POSIX signal handler use stop_on_signals() instead.
  void stop();

 private:
  std::unique_ptr<detail::ServerImpl> impl_;
};

// Decodes %XX escapes (and '+' as a space when `plus_as_space`). Nothing for a truncated or
// non-hex escape, or for an escape that decodes to NUL.
std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space);

// True for 1..128 characters of [A-Za-z0-9._-]: an X-Request-Id the server accepts as is.
bool valid_request_id(std::string_view id);

}  // namespace quanqu::http
