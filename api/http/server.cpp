// Beast HTTP/1.1 server after Beast's advanced server example: a listener and one session per
// connection, each on its own strand, with graceful stop through a weak registry of sessions.
#include "http/server.h"

#include "common/random.h"
#include "http/problem.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/span_body.hpp>

#include <sys/resource.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace quanqu::http {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
// Concrete executor types: handlers dispatch without any_io_executor's type erasure.
using Strand = net::strand<net::io_context::executor_type>;
using Socket = tcp::socket::rebind_executor<Strand>::other;
using Stream = beast::basic_stream<tcp, Strand>;
// The response refers to a body the session keeps alive (its own string or a shared one), so
// the body is never copied into Beast.
using BeastResponse = bhttp::response<bhttp::span_body<const char>>;

namespace {

constexpr std::size_t kLingerMaxBytes = 1 << 20;
constexpr std::chrono::seconds kLingerTime{1};
constexpr std::chrono::milliseconds kAcceptRetry{100};      // the first back-off after an accept error
constexpr std::chrono::milliseconds kAcceptRetryMax{1000};  // doubling up to this
constexpr std::chrono::seconds kAcceptLogEvery{10};         // one "accept failed" log line per this

// Boost 1.74's beast::string_view is boost::string_view.
std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// percent_decode into `out` (reusing its capacity); false where percent_decode has nothing.
bool percent_decode_into(std::string_view in, bool plus_as_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

void assign_lower(std::string& out, std::string_view s) {
  out.assign(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

// Splits an origin-form (or absolute-form) target into a decoded path and query.
bool parse_target(std::string_view target, Request& out) {
  if (target.starts_with("http://") || target.starts_with("https://")) {
    auto authority = target.find("://") + 3;
    auto rest = target.find_first_of("/?", authority);
    target = rest == std::string_view::npos ? std::string_view("/") : target.substr(rest);
    if (target.front() == '?') return false;
  }
  if (target.empty() || target.front() != '/') return false;
  auto q = target.find('?');
  if (!percent_decode_into(target.substr(0, q), false, out.path)) {
    out.path.clear();
    return false;
  }
  if (q == std::string_view::npos) return true;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!key || !value) return false;
    if (!key->empty()) out.query[std::move(*key)] = std::move(*value);
  }
  return true;
}

// The Date header value, formatted once per second per thread.
std::string_view http_date() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_second = -1;
  thread_local char buf[64];
  thread_local int len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    len = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                        kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = now;
  }
  return {buf, static_cast<std::size_t>(len)};
}

bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

// CORS (see ServerOptions::cors_origins): what a preflight allows and what scripts may read.
constexpr std::string_view kCorsAllowMethods = "GET, HEAD, POST, PATCH, PUT, DELETE, OPTIONS";
constexpr std::string_view kCorsAllowHeaders =
    "Content-Type, Authorization, X-Publishable-Key, Idempotency-Key, X-Order-Token, X-Customer-Token, "
    "X-Request-Id, If-None-Match";
constexpr std::string_view kCorsExposeHeaders =
    "X-Request-Id, Idempotent-Replayed, Location, ETag, Retry-After, RateLimit-Limit, RateLimit-Remaining, "
    "RateLimit-Reset";
constexpr std::string_view kCorsMaxAge = "7200";  // two hours: the most Chromium honours

// Adds `token` to the response's Vary header unless it is already listed there.
void add_vary(Response& r, std::string_view token) {
  auto vary = std::find_if(r.headers.begin(), r.headers.end(), [](const auto& h) { return iequals(h.first, "vary"); });
  if (vary == r.headers.end()) {
    r.headers.emplace_back("Vary", std::string(token));
    return;
  }
  std::string_view list = vary->second;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (iequals(item, token) || item == "*") return;
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  vary->second += ", ";
  vary->second += token;
}

// The server sets these itself; a handler's copy would corrupt the framing.
bool reserved_header(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding") || iequals(name, "connection");
}

std::string strip_crlf(std::string value) {
  std::replace_if(
      value.begin(), value.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return value;
}

// A request the server refuses before reading its body: the status and the problem it answers.
struct Refusal {
  unsigned status;
  Error error;
};

// The comma-separated elements of a list header, trimmed of spaces and tabs and of any
// ";parameters"; empty elements are skipped (RFC 9110 section 5.6.1).
std::vector<std::string_view> list_elements(std::string_view value) {
  std::vector<std::string_view> out;
  while (!value.empty()) {
    auto comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    item = item.substr(0, item.find(';'));
    auto first = item.find_first_not_of(" \t");
    if (first == std::string_view::npos) continue;
    item = item.substr(first, item.find_last_not_of(" \t") - first + 1);
    out.push_back(item);
  }
  return out;
}

// RFC 9112 section 6: a request's framing must be unambiguous. Beast 1.74 ignores a
// Transfer-Encoding whose last coding is not chunked (the body would then be read as the next
// request), accepts a repeated identical Content-Length, and accepts Content-Length after
// "Transfer-Encoding: gzip"; the checks here close those gaps before the body is read.
std::optional<Refusal> framing_refusal(const bhttp::request_header<>& h) {
  auto malformed = [](std::string why) {
    return Refusal{400, Error::invalid("malformed_request", "malformed HTTP request: " + std::move(why))};
  };
  int content_lengths = 0;
  std::vector<std::string_view> codings;
  bool transfer_encoding = false;
  for (const auto& field : h) {
    if (field.name() == bhttp::field::content_length) {
      ++content_lengths;
      if (sv(field.value()).find(',') != std::string_view::npos) ++content_lengths;
    } else if (field.name() == bhttp::field::transfer_encoding) {
      transfer_encoding = true;
      for (auto coding : list_elements(sv(field.value()))) codings.push_back(coding);
    }
  }
  if (content_lengths > 1) return malformed("more than one Content-Length");
  if (!transfer_encoding) return std::nullopt;
  if (content_lengths > 0) return malformed("both Content-Length and Transfer-Encoding");
  if (h.version() < 11) return malformed("Transfer-Encoding in an HTTP/1.0 request");
  if (codings.empty() || !iequals(codings.back(), "chunked"))
    return malformed("the final transfer coding is not chunked");
  for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
    if (iequals(codings[i], "chunked")) return malformed("chunked applied more than once");
  }
  if (codings.size() > 1)
    return Refusal{501, Error::invalid("transfer_coding_not_implemented",
                                       "no transfer coding other than chunked is supported, got '" +
                                           std::string(codings.front()) + "'")};
  return std::nullopt;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space) {
  std::string out;
  if (!percent_decode_into(in, plus_as_space, out)) return std::nullopt;
  return out;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

namespace {
// 32 hex digits from a per-thread generator seeded once from the OS. Request ids only need to
// be unique enough to correlate logs; they are no secret, so they skip the CSPRNG's locking.
void new_request_id(std::string& out) {
  thread_local std::mt19937_64 generator(std::random_device{}() ^
                                         (static_cast<std::uint64_t>(std::random_device{}()) << 32));
  static constexpr char kDigits[] = "0123456789abcdef";
  out.resize(32);
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = generator();
    for (int i = 0; i < 16; ++i) out[half * 16 + i] = kDigits[(bits >> (i * 4)) & 0xF];
  }
}
}  // namespace

class Session;
using detail::ServerImpl;

struct detail::ServerImpl {
  ServerImpl(ServerOptions o, std::function<Response(Request&)> h, Metrics& m, Logger& l)
      : options(std::move(o)), handler(std::move(h)), metrics(m), logger(l) {}

  // The response to a complete request; fills `out` for the access log. Never throws. A
  // deferred response is returned as the handler gave it: finish() it once completed.
  Response respond(bhttp::request<bhttp::string_body>& in, Request& out, const std::string& remote);
  // What the server adds to every handler response: a valid status, CORS headers for an allowed
  // `origin`, X-Request-Id.
  void finish(Response& r, const Request& out, std::string_view origin);
  bool origin_allowed(std::string_view origin) const;
  // Stops the io_context if stop() has not finished within options.shutdown_grace. Runs on its
  // own thread from run(); returns once run_finished is set.
  void watch_grace();

  void do_accept();
  void on_accept(beast::error_code ec, Socket socket);
  void on_accept_error(const beast::error_code& ec);

  // Why a new connection from `address` is refused, or nothing (it is then counted as open
  // until release()). Thread-safe.
  enum class Admission { admitted, per_client, server_full };
  Admission admit(const std::string& address);
  void release(const std::string& address);
  void do_stop();  // on listener_strand

  void add(const std::shared_ptr<Session>& s);
  void remove(Session* s);

  ServerOptions options;
  std::function<Response(Request&)> handler;
  Metrics& metrics;
  Logger& logger;
  std::atomic<bool> stopping{false};
  unsigned short bound_port = 0;

  std::mutex stop_mutex;  // guards the four below
  std::condition_variable stop_changed;
  Clock::time_point stop_deadline{};  // set by do_stop
  bool stop_requested = false;
  bool run_finished = false;
  bool grace_expired = false;

  std::mutex sessions_mutex;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;

  std::size_t max_connections = 0;  // set by start()
  std::mutex connections_mutex;
  std::unordered_map<std::string, std::size_t> connections_per_client;  // admitted, open
  std::size_t open_connections = 0;
  std::atomic<std::uint64_t> refused_per_client{0}, refused_server_full{0}, accept_errors{0};
  // Accept back-off and log rate limit (listener strand only).
  std::chrono::milliseconds accept_backoff{kAcceptRetry};
  Clock::time_point accept_logged{};
  std::uint64_t accept_unlogged = 0;

  // Destroyed before the members above: pending handlers own sessions that unregister.
  net::io_context ioc;
  Strand listener_strand{net::make_strand(ioc)};
  tcp::acceptor acceptor{listener_strand};
  net::steady_timer accept_retry{listener_strand};
  std::optional<net::signal_set> signals;
};

// One connection: read a request, answer it, repeat while keep-alive. All of its handlers run
// on the connection's strand (the socket's executor).
class Session : public std::enable_shared_from_this<Session> {
 public:
  // `remote` is the client's address. `admission` says whether the connection was admitted
  // (counted by ServerImpl::admit, released when the session ends) or why it is refused (it is
  // then answered 503 and closed without reading a request).
  Session(Socket&& socket, ServerImpl& server, std::string remote, ServerImpl::Admission admission)
      : server_(server), stream_(std::move(socket)), remote_(std::move(remote)), admission_(admission) {}

  ~Session() {
    if (counted_) server_.metrics.finished();
    if (admission_ == ServerImpl::Admission::admitted) server_.release(remote_);
    server_.remove(this);
  }

  void run() {
    server_.add(shared_from_this());
    if (admission_ != ServerImpl::Admission::admitted)
      return net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::refuse, shared_from_this()));
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

  Strand executor() { return stream_.get_executor(); }

  // Called on the strand when the server stops: an idle connection is closed now, a busy one
  // after its current response (do_read sees `stopping`).
  void on_server_stop() {
    if (idle_) stream_.cancel();
  }

 private:
  void do_read() {
    if (server_.stopping) return do_close();
    parser_.emplace();
    parser_->body_limit(server_.options.body_limit);
    if (first_ || buffer_.size() > 0) {
      stream_.expires_after(server_.options.header_timeout);
      return do_read_header();
    }
    // Wait for the first byte of the next keep-alive request with the idle timeout.
    idle_ = true;
    stream_.expires_after(server_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(8192), beast::bind_front_handler(&Session::on_idle, shared_from_this()));
  }

  void on_idle(beast::error_code ec, std::size_t n) {
    idle_ = false;
    if (ec) return fail(ec, "idle read");
    buffer_.commit(n);
    stream_.expires_after(server_.options.header_timeout);
    do_read_header();
  }

  void do_read_header() {
    // A keep-alive request's header usually arrives whole with its first bytes: parse it from
    // the buffer now instead of paying for another asynchronous read that would complete at once.
    if (buffer_.size() > 0) {
      beast::error_code ec;
      buffer_.consume(parser_->put(buffer_.data(), ec));
      if (ec ? ec != bhttp::error::need_more : parser_->is_header_done()) return on_read_header(ec, 0);
    }
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::on_read_header, shared_from_this()));
  }

  void on_read_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    // Refused framing closes the connection: whatever follows is never read as a request.
    if (auto refusal = framing_refusal(parser_->get())) return reject(refusal->status, refusal->error);
    header_fields_ = static_cast<std::size_t>(std::distance(parser_->get().begin(), parser_->get().end()));
    if (parser_->is_done()) return on_message();
    if (iequals(sv(parser_->get()[bhttp::field::expect]), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                              beast::bind_front_handler(&Session::on_continue, shared_from_this()));
    }
    do_read_body();
  }

  void on_continue(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "write continue");
    do_read_body();
  }

  void do_read_body() {
    bhttp::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    on_message();
  }

  // A whole request has been read. Beast appends a chunked body's trailer fields to the
  // header; they are dropped (RFC 9110 section 6.5.1 lets a recipient discard them), so no
  // trailer can supply a credential or any other header that was not in the header section.
  void on_message() {
    auto& fields = parser_->get();
    auto it = fields.begin();
    for (std::size_t i = 0; i < header_fields_ && it != fields.end(); ++i) ++it;
    while (it != fields.end()) it = fields.erase(it);
    handle();
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream) return do_close();
    if (ec == bhttp::error::body_limit)
      return reject(413,
                    Error::invalid("payload_too_large", "the request body is larger than " +
                                                            std::to_string(server_.options.body_limit) + " bytes"));
    if (is_parse_error(ec))
      return reject(400, Error::invalid("malformed_request", "malformed HTTP request: " + ec.message()));
    fail(ec, "read");
  }

  void handle() {
    begin_request();
    auto req = parser_->release();
    bool keep_alive = req.keep_alive();
    bool head = req.method() == bhttp::verb::head;
    // Built in place, not default-constructed and assigned: a Response costs allocations.
    Response response = [&]() -> Response {
      try {
        return server_.respond(req, request_, remote_);
      } catch (...) {  // bad_alloc and the like: answer rather than drop the connection
        return Response::text(500, "internal error");
      }
    }();
    if (response.deferred) return defer(std::move(response.deferred), req.version(), keep_alive, head);
    send(std::move(response), req.version(), keep_alive, head, false);
  }

  // Answers a connection over a limit with a 503 before reading anything, then closes it.
  void refuse() {
    begin_request();
    request_ = Request{};
    request_.remote_address = remote_;
    new_request_id(request_.request_id);
    bool per_client = admission_ == ServerImpl::Admission::per_client;
    Response response = problem(Error::make(ErrorKind::unavailable, "too_many_connections",
                                            per_client ? "too many open connections from your address"
                                                       : "the server has too many open connections"),
                                503);
    response.set_header("Retry-After", "1");
    server_.finish(response, request_, {});  // no-store and the request id, as on every reply
    send(std::move(response), 11, false, false, true);
  }

  // The handler answers later (Response::deferred): it gets a completion that brings the final
  // response back to this strand, once. The work guard keeps run() going until then.
  void defer(std::function<void(Response::Completion)> start, unsigned version, bool keep_alive, bool head) {
    struct Pending {
      Pending(std::shared_ptr<Session> s, net::io_context& ioc) : session(std::move(s)), work(ioc.get_executor()) {}
      std::shared_ptr<Session> session;
      net::executor_work_guard<net::io_context::executor_type> work;
      std::atomic<bool> called{false};
    };
    auto pending = std::make_shared<Pending>(shared_from_this(), server_.ioc);
    Response::Completion complete = [pending, version, keep_alive, head](Response r) {
      if (pending->called.exchange(true)) return;
      auto self = std::move(pending->session);
      auto executor = self->executor();
      net::post(executor, [self = std::move(self), r = std::move(r), work = std::move(pending->work), version,
                           keep_alive, head]() mutable { self->on_deferred(std::move(r), version, keep_alive, head); });
    };
    try {
      start(complete);
    } catch (const std::exception& e) {
      server_.logger.log(LogLevel::error, "handler threw", {{"error", e.what()}, {"request_id", request_.request_id}});
      complete(problem(Error::internal("unexpected error")));
    } catch (...) {
      complete(problem(Error::internal("unexpected error")));
    }
  }

  void on_deferred(Response r, unsigned version, bool keep_alive, bool head) {
    Response response = [&]() -> Response {
      try {
        if (r.deferred) {
          server_.logger.log(LogLevel::error, "a deferred response was completed with another deferred response",
                             {{"route", request_.route}});
          r = problem(Error::internal("unexpected error"));
        }
        server_.finish(r, request_, request_.header("origin").value_or(std::string_view()));
        return std::move(r);
      } catch (...) {
        return Response::text(500, "internal error");
      }
    }();
    send(std::move(response), version, keep_alive, head, false);
  }

  // Answers a request that could not be read, then closes the connection.
  void reject(unsigned status, const Error& error) {
    begin_request();
    const auto& partial = parser_->get();
    request_ = Request{};
    request_.method = std::string(partial.method_string());
    request_.path = std::string(partial.target().substr(0, partial.target().find('?')));
    request_.remote_address = remote_;
    auto id = sv(partial["X-Request-Id"]);
    Response response = problem(error, status);
    try {
      if (valid_request_id(id))
        request_.request_id.assign(id);
      else
        new_request_id(request_.request_id);
      // CORS, no-store and the request id, as on every reply: a browser can read why.
      server_.finish(response, request_, sv(partial["Origin"]));
    } catch (...) {
    }
    send(std::move(response), 11, false, false, true);
  }

  void begin_request() {
    started_ = Clock::now();
    server_.metrics.started();
    counted_ = true;
  }

  void send(Response&& r, unsigned version, bool keep_alive, bool head, bool linger) {
    keep_alive = keep_alive && !server_.stopping;
    close_ = !keep_alive;
    linger_ = linger;
    status_ = r.status;
    res_ = {};
    res_.version(version);
    res_.result(r.status);
    res_.set(bhttp::field::server, "quanqu");
    auto date = http_date();
    res_.set(bhttp::field::date, beast::string_view(date.data(), date.size()));
    if (!r.content_type.empty()) res_.set(bhttp::field::content_type, strip_crlf(std::move(r.content_type)));
    for (auto& [name, value] : r.headers)
      if (!reserved_header(name)) res_.insert(name, strip_crlf(std::move(value)));
    res_.keep_alive(keep_alive);
    // The body stays in body_ or shared_body_ until on_write; res_ only points at it.
    body_ = std::move(r.body);
    shared_body_ = std::move(r.shared_body);
    std::string_view body = shared_body_ ? std::string_view(*shared_body_) : std::string_view(body_);
    bool bodiless = r.status == 204 || r.status == 304;
    if (!bodiless) res_.content_length(body.size());
    if (!bodiless && !head) res_.body() = BeastResponse::body_type::value_type(body.data(), body.size());
    stream_.expires_after(server_.options.idle_timeout);
    bhttp::async_write(stream_, res_, beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    server_.metrics.observe(request_.method, request_.route, status_, seconds);
    server_.metrics.finished();
    counted_ = false;
    server_.logger.access(request_, status_, seconds);
    if (ec) return fail(ec, "write");
    first_ = false;
    res_ = {};
    body_ = {};  // the next response brings its own buffer: do not hold this one while idle
    shared_body_.reset();
    if (close_) return do_close();
    do_read();
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (!linger_ || ec) return;
    // The client may still be sending the body we refused. Closing with unread data would
    // reset the connection and could destroy our response in flight, so read and discard
    // for a moment first.
    buffer_.clear();
    stream_.expires_after(kLingerTime);
    do_linger();
  }

  void do_linger() {
    stream_.async_read_some(buffer_.prepare(16384), beast::bind_front_handler(&Session::on_linger, shared_from_this()));
  }

  void on_linger(beast::error_code ec, std::size_t n) {
    if (ec) return;  // EOF, timeout or reset: the session ends and the socket closes
    buffer_.consume(buffer_.size());
    lingered_ += n;
    if (lingered_ < kLingerMaxBytes) do_linger();
  }

  void fail(beast::error_code ec, const char* what) {
    if (!server_.logger.enabled(LogLevel::debug)) return;
    server_.logger.log(LogLevel::debug, "connection closed",
                       {{"op", what}, {"error", ec.message()}, {"remote", remote_}});
  }

  ServerImpl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  BeastResponse res_;  // its body refers to body_ or shared_body_
  std::string body_;
  std::shared_ptr<const std::string> shared_body_;
  Request request_;  // the request being answered, kept for the access log
  std::string remote_;
  Clock::time_point started_;
  unsigned status_ = 0;
  std::size_t lingered_ = 0;
  std::size_t header_fields_ = 0;  // fields in the header section of the request being read
  bool first_ = true;
  bool idle_ = false;
  bool counted_ = false;
  bool close_ = false;
  bool linger_ = false;
  ServerImpl::Admission admission_;
};

Response detail::ServerImpl::respond(bhttp::request<bhttp::string_body>& in, Request& out, const std::string& remote) {
  // `out` is the session's Request from the previous request: every field is reset here
  // (assigning into its strings and header slots reuses their memory). A new Request field must
  // be reset here too.
  out.method.assign(sv(in.method_string()));
  for (char& c : out.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  out.path.clear();
  out.query.clear();
  out.params.clear();
  out.route.clear();
  out.remote_address = remote;
  std::size_t n = 0;
  for (const auto& field : in) {
    if (n == out.headers.size()) out.headers.emplace_back();
    auto& [name, value] = out.headers[n++];
    assign_lower(name, sv(field.name_string()));
    value.assign(sv(field.value()));
  }
  out.headers.resize(n);
  auto id = sv(in["X-Request-Id"]);
  if (valid_request_id(id))
    out.request_id.assign(id);
  else
    new_request_id(out.request_id);
  out.body = std::move(in.body());

  std::string_view origin = sv(in[bhttp::field::origin]);
  bool cors = !origin.empty() && origin_allowed(origin);

  Response r = [&]() -> Response {
    if (!parse_target(sv(in.target()), out))
      return problem(Error::invalid("malformed_request", "the request target is not a valid, percent-encoded path"));
    if (cors && out.method == "OPTIONS") {
      Response preflight = Response::no_content();
      preflight.set_header("Access-Control-Allow-Methods", std::string(kCorsAllowMethods));
      preflight.set_header("Access-Control-Allow-Headers", std::string(kCorsAllowHeaders));
      preflight.set_header("Access-Control-Max-Age", std::string(kCorsMaxAge));
      preflight.set_header("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers");
      return preflight;
    }
    try {
      return handler(out);
    } catch (const std::exception& e) {
      logger.log(LogLevel::error, "handler threw", {{"error", e.what()}, {"request_id", out.request_id}});
    } catch (...) {
      logger.log(LogLevel::error, "handler threw", {{"request_id", out.request_id}});
    }
    return problem(Error::internal("unexpected error"));
  }();
  if (r.deferred) return r;  // finished when the handler completes it (Session::on_deferred)
  finish(r, out, cors ? origin : std::string_view());
  return r;
}

void detail::ServerImpl::finish(Response& r, const Request& out, std::string_view origin) {
  bool cors = !origin.empty() && origin_allowed(origin);
  if (r.status < 200 || r.status > 599) {  // 1xx cannot be a final response; Beast throws above 999
    logger.log(LogLevel::error, "handler returned an invalid status", {{"status", r.status}, {"route", out.route}});
    r = problem(Error::internal("invalid response status"));
  }
  if (cors) {
    r.set_header("Access-Control-Allow-Origin", std::string(origin));
    r.set_header("Access-Control-Expose-Headers", std::string(kCorsExposeHeaders));
  }
  // With CORS configured, every reply depends on Origin (allowed or not), so caches must key on it.
  if (!options.cors_origins.empty()) add_vary(r, "Origin");
  if (std::none_of(r.headers.begin(), r.headers.end(), [](const auto& h) { return iequals(h.first, "cache-control"); }))
    r.headers.emplace_back("Cache-Control", "no-store");
  r.set_header("X-Request-Id", out.request_id);
}

bool detail::ServerImpl::origin_allowed(std::string_view origin) const {
  for (const auto& allowed : options.cors_origins)
    if (allowed == "*" || allowed == origin) return true;
  return false;
}

void detail::ServerImpl::do_accept() {
  acceptor.async_accept(net::make_strand(ioc), beast::bind_front_handler(&ServerImpl::on_accept, this));
}

void detail::ServerImpl::on_accept(beast::error_code ec, Socket socket) {
  if (stopping) return;  // the socket, if any, closes here
  if (ec) {
    if (ec == net::error::operation_aborted) return;
    return on_accept_error(ec);
  }
  accept_backoff = kAcceptRetry;
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::string remote;
  auto endpoint = socket.remote_endpoint(ignored);
  if (!ignored) remote = endpoint.address().to_string();
  Admission admission = admit(remote);
  std::make_shared<Session>(std::move(socket), *this, std::move(remote), admission)->run();
  do_accept();
}

void detail::ServerImpl::on_accept_error(const beast::error_code& ec) {
  // E.g. out of file descriptors: the pending connection stays queued and accept() would fail
  // again at once, so back off (longer each time) instead of spinning, and log rarely.
  accept_errors.fetch_add(1, std::memory_order_relaxed);
  auto now = Clock::now();
  if (accept_logged == Clock::time_point{} || now - accept_logged >= kAcceptLogEvery) {
    logger.log(LogLevel::warn, "accept failed",
               {{"error", ec.message()}, {"retry_ms", accept_backoff.count()}, {"not_logged", accept_unlogged}});
    accept_logged = now;
    accept_unlogged = 0;
  } else {
    ++accept_unlogged;
  }
  accept_retry.expires_after(accept_backoff);
  accept_backoff = std::min(accept_backoff * 2, kAcceptRetryMax);
  accept_retry.async_wait([this](beast::error_code wait_ec) {
    if (!wait_ec && !stopping) do_accept();
  });
}

detail::ServerImpl::Admission detail::ServerImpl::admit(const std::string& address) {
  std::lock_guard lock(connections_mutex);
  if (open_connections >= max_connections) {
    refused_server_full.fetch_add(1, std::memory_order_relaxed);
    return Admission::server_full;
  }
  std::size_t& mine = connections_per_client[address];
  if (options.max_connections_per_client > 0 && mine >= options.max_connections_per_client) {
    refused_per_client.fetch_add(1, std::memory_order_relaxed);
    return Admission::per_client;
  }
  ++mine;
  ++open_connections;
  return Admission::admitted;
}

void detail::ServerImpl::release(const std::string& address) {
  std::lock_guard lock(connections_mutex);
  --open_connections;
  auto it = connections_per_client.find(address);
  if (it != connections_per_client.end() && --it->second == 0) connections_per_client.erase(it);
}

std::pair<std::uint64_t, std::uint64_t> raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return {0, 0};
  std::uint64_t before = limit.rlim_cur;
  if (limit.rlim_cur == limit.rlim_max) return {before, before};
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return {before, before};
  return {before, limit.rlim_cur};
}

void detail::ServerImpl::do_stop() {
  if (stopping.exchange(true)) return;
  {
    std::lock_guard lock(stop_mutex);
    stop_requested = true;
    stop_deadline = Clock::now() + options.shutdown_grace;
  }
  stop_changed.notify_all();
  beast::error_code ignored;
  acceptor.close(ignored);
  accept_retry.cancel();
  if (signals) {
    signals->cancel(ignored);
    signals->clear(ignored);  // a second signal now gets the default action
  }
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(sessions_mutex);
    live.reserve(sessions.size());
    for (auto& [ptr, weak] : sessions)
      if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) net::post(s->executor(), [s] { s->on_server_stop(); });
}

void detail::ServerImpl::watch_grace() {
  std::unique_lock lock(stop_mutex);
  stop_changed.wait(lock, [&] { return stop_requested || run_finished; });
  if (stop_changed.wait_until(lock, stop_deadline, [&] { return run_finished; })) return;
  grace_expired = true;
  lock.unlock();
  logger.log(LogLevel::warn, "shutdown grace period over; abandoning the requests still in flight",
             {{"grace_ms", options.shutdown_grace.count()}});
  ioc.stop();
}

void detail::ServerImpl::add(const std::shared_ptr<Session>& s) {
  std::lock_guard lock(sessions_mutex);
  sessions.emplace(s.get(), s);
}

void detail::ServerImpl::remove(Session* s) {
  std::lock_guard lock(sessions_mutex);
  sessions.erase(s);
}

Server::Server(ServerOptions options, std::function<Response(Request&)> handler, Metrics& metrics, Logger& logger)
    : impl_(std::make_unique<detail::ServerImpl>(std::move(options), std::move(handler), metrics, logger)) {}

Server::~Server() = default;

void Server::start() {
  auto& o = impl_->options;
  std::string where = o.host + ":" + std::to_string(o.port);
  beast::error_code ec;
  tcp::endpoint endpoint;
  auto address = net::ip::make_address(o.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, o.port);
  } else {
    tcp::resolver resolver(impl_->ioc);
    auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || results.empty())
      throw std::runtime_error("cannot listen on " + where + ": cannot resolve host: " + ec.message());
    endpoint = results.begin()->endpoint();
  }
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor.close(ignored);
    throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
  }
  impl_->bound_port = acceptor.local_endpoint(ec).port();
  impl_->max_connections = o.max_connections;
  if (impl_->max_connections == 0) {
    rlimit limit{};
    std::uint64_t soft = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                             ? limit.rlim_cur
                             : std::uint64_t{1} << 20;
    std::uint64_t reserve = std::max<std::uint64_t>(64, soft / 10);
    impl_->max_connections = static_cast<std::size_t>(soft > reserve + 16 ? soft - reserve : 16);
  }
  net::dispatch(impl_->listener_strand, [impl = impl_.get()] { impl->do_accept(); });
}

unsigned short Server::port() const {
  return impl_->bound_port;
}

std::size_t Server::max_connections() const {
  return impl_->max_connections;
}

ConnectionStats Server::connection_stats() const {
  ConnectionStats out;
  {
    std::lock_guard lock(impl_->connections_mutex);
    out.open_connections = impl_->open_connections;
  }
  out.refused_per_client = impl_->refused_per_client.load(std::memory_order_relaxed);
  out.refused_server_full = impl_->refused_server_full.load(std::memory_order_relaxed);
  out.accept_errors = impl_->accept_errors.load(std::memory_order_relaxed);
  return out;
}

void Server::stop_on_signals() {
  auto* impl = impl_.get();
  impl->signals.emplace(impl->listener_strand, SIGINT, SIGTERM);
  impl->signals->async_wait([impl](beast::error_code ec, int signal) {
    if (ec) return;
    impl->logger.log(LogLevel::info, "stopping", {{"signal", signal}});
    impl->do_stop();
  });
}

bool Server::run() {
  auto* impl = impl_.get();
  std::thread grace([impl] { impl->watch_grace(); });
  auto worker = [impl] {
    for (;;) {
      try {
        impl->ioc.run();
        return;
      } catch (const std::exception& e) {  // handlers do not throw; this is a last resort
        impl->logger.log(LogLevel::error, "io thread caught an exception", {{"error", e.what()}});
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < impl->options.threads; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  {
    std::lock_guard lock(impl->stop_mutex);
    impl->run_finished = true;
  }
  impl->stop_changed.notify_all();
  grace.join();
  return !impl->grace_expired;
}

std::chrono::steady_clock::time_point Server::stop_deadline() const {
  std::lock_guard lock(impl_->stop_mutex);
  return impl_->stop_requested ? impl_->stop_deadline : Clock::now() + impl_->options.shutdown_grace;
}

void Server::stop() {
  net::post(impl_->listener_strand, [impl = impl_.get()] { impl->do_stop(); });
}

}  // namespace quanqu::http
