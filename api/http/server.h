// The HTTP/1.1 server: accepts connections and turns each request into one handler call.
#pragma once

#include "http/log.h"
#include "http/message.h"
#include "http/metrics.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
  // Open connections allowed from one client address; 0 for no limit.
  std::size_t max_connections_per_client = 256;
  // Open connections allowed in all; 0 derives it at start() from the open-files soft limit
  // (the limit less a tenth of it, at least 64, kept for the database, plugins and logs).
  std::size_t max_connections = 0;
  // How long a graceful stop may take: past it, run() stops the io threads without waiting for
  // the requests still in flight (see run()).
  std::chrono::milliseconds shutdown_grace{10000};
};

// Counters of the connection layer, read for /metrics. All monotonic except open_connections.
struct ConnectionStats {
  std::uint64_t open_connections = 0;     // admitted connections now open
  std::uint64_t refused_per_client = 0;   // refused: their address was at max_connections_per_client
  std::uint64_t refused_server_full = 0;  // refused: the server was at max_connections
  std::uint64_t accept_errors = 0;        // accept() failures (EMFILE, ENFILE, ENOBUFS, ...)
};

// Raises this process's RLIMIT_NOFILE soft limit to its hard limit (a server holding many idle
// keep-alive connections needs more than the usual 1,024). Returns {soft before, soft after};
// after == before when it was already at the hard limit or the raise was refused.
std::pair<std::uint64_t, std::uint64_t> raise_open_files_limit();

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
//    Access-Control-Allow-Origin (that origin) and Access-Control-Expose-Headers (X-Request-Id,
//    Idempotent-Replayed, Location, ETag, Retry-After, RateLimit-Limit, RateLimit-Remaining,
//    RateLimit-Reset); an OPTIONS request with such an Origin is answered 204 by the server
//    itself (preflight) without calling the handler, with Access-Control-Allow-Methods (GET,
//    HEAD, POST, PATCH, PUT, DELETE, OPTIONS), Access-Control-Allow-Headers (Content-Type,
//    Authorization, X-Publishable-Key, Idempotency-Key, X-Order-Token, X-Customer-Token,
//    X-Request-Id, If-None-Match), Access-Control-Max-Age: 7200 and Vary:
//    Access-Control-Request-Method, Access-Control-Request-Headers. Whenever cors_origins is
//    not empty every response gets "Origin" added to its Vary header (allowed origin or not).
//    Other origins get no Access-Control-* header at all.
//  * the response gets Content-Type (unless the Response's content_type is empty), its headers
//    (except Content-Length, Transfer-Encoding and Connection, which the server owns; CR and LF
//    in values become spaces), Content-Length (not for 204/304, which carry no body), Date and
//    "Server: quanqu"; HEAD responses are sent without their body. A handler status outside
//    200..599 becomes a 500 problem.
//  * request headers are limited to Beast's default 8 KiB; more is a 400 problem.
//  * HTTP/1.1 keep-alive; one request is handled at a time per connection (pipelined requests
//    wait in the read buffer).
//  * request framing follows RFC 9112 section 6, and anything ambiguous is refused before the
//    body is read, answered once and the connection closed (nothing after it is read as a
//    request): a Transfer-Encoding whose final coding is not chunked, chunked twice, any
//    Transfer-Encoding in HTTP/1.0, Content-Length together with Transfer-Encoding, and a
//    repeated, listed ("5, 5") or non-decimal Content-Length are a 400 problem
//    ("malformed_request"); other codings before a final chunked ("gzip, chunked") are a 501
//    problem ("transfer_coding_not_implemented"): no transfer coding but chunked is supported.
//    Beast itself refuses (400 "malformed_request") bad chunk sizes, header names and bare-LF
//    line endings; it unfolds an obsolete line fold into one space (RFC 9112 section 5.2), so
//    a folded framing header is one malformed value. Trailer fields of a chunked body are
//    discarded.
//  * connections: once an address has max_connections_per_client open, or the server
//    max_connections, a new connection is answered at once with a 503 problem
//    ("too_many_connections", Retry-After: 1, Connection: close) and closed; nothing it sends is
//    handled. accept() errors (out of file descriptors) retry after a back-off growing from
//    100 ms to 1 s and are logged at most once every 10 s with a count of the ones left out.
//  * caching: a response without Cache-Control gets "Cache-Control: no-store" (handlers of
//    cacheable replies set their own).
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

  // The connection cap in force (options.max_connections, or the one derived from the open-files
  // limit). Valid after start().
  std::size_t max_connections() const;

  // A snapshot of the connection counters. Thread-safe.
  ConnectionStats connection_stats() const;

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
