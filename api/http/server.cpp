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
constexpr std::chrono::milliseconds kAcceptRetry{100};

// Boost 1.74's beast::string_view is boost::string_view.
std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

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

// The server sets these itself; a handler's copy would corrupt the framing.
bool reserved_header(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding") || iequals(name, "connection");
}

std::string strip_crlf(std::string value) {
  std::replace_if(value.begin(), value.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return value;
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
  Session(Socket&& socket, ServerImpl& server) : server_(server), stream_(std::move(socket)) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
  }

  ~Session() {
    if (counted_) server_.metrics.finished();
    server_.remove(this);
  }

  void run() {
    server_.add(shared_from_this());
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
    if (parser_->is_done()) return handle();
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
    handle();
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream) return do_close();
    if (ec == bhttp::error::body_limit)
      return reject(413, Error::invalid("payload_too_large", "the request body is larger than " +
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
      response.set_header("X-Request-Id", request_.request_id);
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
  bool first_ = true;
  bool idle_ = false;
  bool counted_ = false;
  bool close_ = false;
  bool linger_ = false;
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
      preflight.set_header("Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE, OPTIONS");
      preflight.set_header("Access-Control-Allow-Headers",
                           "Content-Type, Authorization, X-Publishable-Key, Idempotency-Key, X-Request-Id");
      preflight.set_header("Access-Control-Max-Age", "600");
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
    r.set_header("Access-Control-Expose-Headers", "X-Request-Id");
    auto vary = std::find_if(r.headers.begin(), r.headers.end(), [](const auto& h) { return iequals(h.first, "vary"); });
    if (vary == r.headers.end()) r.headers.emplace_back("Vary", "Origin");
    else if (!iequals(vary->second, "origin") && vary->second.find("Origin") == std::string::npos)
      vary->second += ", Origin";
  }
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
    logger.log(LogLevel::warn, "accept failed", {{"error", ec.message()}});
    // E.g. out of file descriptors: back off instead of spinning.
    accept_retry.expires_after(kAcceptRetry);
    accept_retry.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && !stopping) do_accept();
    });
    return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::make_shared<Session>(std::move(socket), *this)->run();
  do_accept();
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
  net::dispatch(impl_->listener_strand, [impl = impl_.get()] { impl->do_accept(); });
}

unsigned short Server::port() const { return impl_->bound_port; }

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
