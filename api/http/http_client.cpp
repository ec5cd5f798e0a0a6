// The outgoing HTTP/1.1 client: one connection per call, driven by a private io_context with a
// single deadline over every step, so a slow or silent peer costs the caller at most the timeout.
#include "http/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <future>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

namespace quanqu::http {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace detail {
struct TlsContext {
  // Asio wants a non-const context to create a stream from, but after construction it is only
  // read (SSL_new), which OpenSSL allows from any number of threads at once.
  mutable ssl::context ctx{ssl::context::tls_client};
};
}  // namespace detail

namespace {

constexpr std::uint32_t kHeaderLimit = 64 * 1024;
constexpr int kMaxInterimReplies = 16;
constexpr std::size_t kMaxUrlLength = 16 * 1024;

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}
std::string sv_str(beast::string_view s) {
  return std::string(s.data(), s.size());
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

Error unavailable(std::string code, std::string message) {
  return {ErrorKind::unavailable, std::move(code), std::move(message), {}, {}, {}};
}

Error bad_url(std::string message) {
  return Error::invalid("http.bad_url", std::move(message), {{"url", "invalid"}});
}

struct Url {
  bool tls = false;
  std::string host;         // without brackets: what is resolved, verified and sent as SNI
  std::string host_header;  // with brackets for IPv6, and ":port" unless the scheme's default
  unsigned short port = 0;
  std::string target;                  // path and query
  std::optional<net::ip::address> ip;  // set when the host is an IP literal
  std::string origin() const { return (tls ? "https://" : "http://") + host_header; }
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 3986 reg-name, restricted to what DNS names use (plus '_', which some internal hosts have).
bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_'; });
}

// Bytes allowed unescaped in an origin-form target: RFC 3986 pchar, '/', '?', and '%' escapes.
bool valid_target_char(char c) {
  static constexpr std::string_view kOther = "-._~!$&'()*+,;=:@/?%";
  return is_alpha(c) || is_digit(c) || kOther.find(c) != std::string_view::npos;
}

Result<Url> parse_url(std::string_view url) {
  if (url.size() > kMaxUrlLength) return bad_url("the URL is longer than 16 KiB");
  Url out;
  auto starts_with_ci = [&](std::string_view prefix) {
    return url.size() >= prefix.size() && iequals(url.substr(0, prefix.size()), prefix);
  };
  if (starts_with_ci("https://")) {
    out.tls = true;
    url.remove_prefix(8);
  } else if (starts_with_ci("http://")) {
    url.remove_prefix(7);
  } else {
    return bad_url("the URL must start with http:// or https://");
  }
  if (auto hash = url.find('#'); hash != std::string_view::npos) url = url.substr(0, hash);
  const auto authority_end = url.find_first_of("/?");
  std::string_view authority = url.substr(0, authority_end);
  std::string_view rest = authority_end == std::string_view::npos ? std::string_view{} : url.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return bad_url("credentials (user@) in the URL are not supported");
  if (authority.empty()) return bad_url("the URL has no host");

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad_url("the IPv6 address in the URL has no closing ']'");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad_url("unexpected characters after the IPv6 address in the URL");
      has_port = true;
      port_text = after.substr(1);
    }
    boost::system::error_code ec;
    auto v6 = net::ip::make_address_v6(std::string(host), ec);
    if (ec || host.find('%') != std::string_view::npos) return bad_url("the host in brackets is not an IPv6 address");
    out.ip = net::ip::address(v6);
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (!valid_host_name(host)) return bad_url("the URL's host is not a valid host name or IP address");
    // All digits and dots: it must be a dotted-quad IPv4 address, not a name.
    if (std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; })) {
      boost::system::error_code ec;
      auto v4 = net::ip::make_address_v4(std::string(host), ec);
      if (ec) return bad_url("the URL's host is not a valid IPv4 address");
      out.ip = net::ip::address(v4);
    }
  }
  if (host.empty()) return bad_url("the URL has no host");

  unsigned port = out.tls ? 443 : 80;
  if (has_port) {
    if (port_text.empty() || port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(), is_digit))
      return bad_url("the URL's port must be a number from 1 to 65535");
    port = static_cast<unsigned>(std::stoul(std::string(port_text)));
    if (port == 0 || port > 65535) return bad_url("the URL's port must be a number from 1 to 65535");
  }
  out.port = static_cast<unsigned short>(port);
  out.host = to_lower(host);
  const bool bracket = out.ip && out.ip->is_v6();
  out.host_header = bracket ? "[" + out.host + "]" : out.host;
  if (port != (out.tls ? 443u : 80u)) out.host_header += ":" + std::to_string(port);

  if (!std::all_of(rest.begin(), rest.end(), valid_target_char))
    return bad_url("the URL's path or query has characters that must be percent-encoded");
  out.target = rest.empty() ? "/" : rest.front() == '?' ? "/" + std::string(rest) : std::string(rest);
  return out;
}

// RFC 9110 token characters.
bool valid_header_name(std::string_view name) {
  static constexpr std::string_view kOther = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || kOther.find(c) != std::string_view::npos;
  });
}

// No control characters but HTAB: above all no CR or LF, which would let a value inject headers.
bool valid_header_value(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

// The request head, serialized here rather than by Beast, whose fields container would group
// repeated names together instead of keeping the caller's order.
Result<std::string> request_head(const OutgoingRequest& request, const Url& url, const std::string& user_agent) {
  static constexpr std::string_view kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
  if (std::find(std::begin(kMethods), std::end(kMethods), request.method) == std::end(kMethods))
    return Error::invalid("http.bad_method", "the method must be one of GET, POST, PUT, PATCH, DELETE and HEAD",
                          {{"method", "unsupported"}});
  std::string head = request.method + " " + url.target + " HTTP/1.1\r\nHost: " + url.host_header + "\r\n";
  bool has_user_agent = false;
  for (const auto& [name, value] : request.headers) {
    if (!valid_header_name(name))
      return Error::invalid("http.bad_header",
                            "a header name must be a non-empty token (letters, digits, !#$%&'*+-.^_`|~)",
                            {{"headers", "invalid name"}});
    if (!valid_header_value(value))
      return Error::invalid("http.bad_header",
                            "the value of header " + name + " contains control characters (CR, LF, ...)",
                            {{"headers", "invalid value"}});
    for (std::string_view owned : {"Host", "Content-Length", "Transfer-Encoding", "Connection"}) {
      if (iequals(name, owned))
        return Error::invalid("http.bad_header",
                              "the " + std::string(owned) + " header is set by the client, not the caller",
                              {{"headers", "reserved name"}});
    }
    if (iequals(name, "User-Agent")) has_user_agent = true;
    head += name + ": " + value + "\r\n";
  }
  if (!has_user_agent && !user_agent.empty() && valid_header_value(user_agent))
    head += "User-Agent: " + user_agent + "\r\n";
  const std::string_view method = request.method;
  if (!request.body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  head += "Connection: close\r\n\r\n";
  return head;
}

// Parses a reply into an IncomingReply: header fields in the order they arrived (lower-cased),
// and a body of at most max_body bytes however it is framed (length, chunks or end of stream).
class ReplyParser final : public bhttp::basic_parser<false> {
 public:
  ReplyParser(std::size_t max_body, bool head) : max_body_(max_body) {
    header_limit(kHeaderLimit);
    body_limit(max_body);
    skip(head);
  }
  IncomingReply& reply() { return reply_; }

 private:
  void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int, beast::error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, beast::error_code&) override { reply_.status = code; }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value, beast::error_code&) override {
    reply_.headers.emplace_back(to_lower(sv(name)), sv_str(value));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
    if (length && *length <= max_body_) reply_.body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(beast::string_view body, beast::error_code& ec) override { return append(body, ec); }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code& ec) override {
    return append(body, ec);
  }
  void on_finish_impl(beast::error_code&) override {}

  // basic_parser checks body_limit too; this keeps the bound whatever the framing.
  std::size_t append(beast::string_view piece, beast::error_code& ec) {
    if (piece.size() > max_body_ - reply_.body.size()) {
      ec = bhttp::error::body_limit;
      return 0;
    }
    reply_.body.append(piece.data(), piece.size());
    return piece.size();
  }

  std::size_t max_body_;
  IncomingReply reply_;
};

// Resolves on a thread of its own that the caller does not wait for past the deadline:
// getaddrinfo cannot be cancelled, and Asio's resolver would make the io_context's destructor
// wait for it. A thread left behind finishes on its own and drops its result.
struct Resolved {
  boost::system::error_code ec;
  std::vector<tcp::endpoint> endpoints;
};

std::optional<Resolved> resolve_until(const std::string& host, unsigned short port, Clock::time_point deadline) {
  auto promise = std::make_shared<std::promise<Resolved>>();
  auto future = promise->get_future();
  std::thread([promise, host, port] {
    Resolved out;
    try {
      net::io_context ioc;
      tcp::resolver resolver(ioc);
      auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, out.ec);
      for (const auto& entry : results) out.endpoints.push_back(entry.endpoint());
    } catch (const std::exception&) {
      out.ec = net::error::no_memory;
    }
    promise->set_value(std::move(out));
  }).detach();
  if (future.wait_until(deadline) != std::future_status::ready) return std::nullopt;
  return future.get();
}

// Starts one asynchronous operation and runs the io_context until it completes. The stream's
// timer is cancelled when the operation completes, so run() does not wait for the deadline.
template <class Initiate>
beast::error_code run_one(net::io_context& ioc, Initiate&& initiate) {
  beast::error_code result = net::error::operation_aborted;
  initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

bool is_timeout(const beast::error_code& ec) {
  return ec == beast::error::timeout;
}

Error timeout_error(const Url& url, int timeout_ms, std::string_view while_doing) {
  return unavailable("http.timeout", url.origin() + " did not answer within " + std::to_string(timeout_ms) + " ms (" +
                                         std::string(while_doing) + ")");
}

struct Context {
  const Url& url;
  int timeout_ms;
  std::size_t max_body_bytes;
  bool head;
};

// Writes the request and reads the reply on a connected (and, for TLS, handshaken) stream.
template <class Stream>
Result<IncomingReply> exchange(net::io_context& ioc, Stream& stream, const std::string& head, const std::string& body,
                               const Context& cx) {
  const std::array<net::const_buffer, 2> request{net::buffer(head), net::buffer(body)};
  auto ec = run_one(ioc, [&](auto handler) { net::async_write(stream, request, std::move(handler)); });
  if (is_timeout(ec)) return timeout_error(cx.url, cx.timeout_ms, "sending the request");
  if (ec)
    return unavailable("http.connection_failed",
                       "sending the request to " + cx.url.origin() + " failed: " + ec.message());

  beast::flat_buffer buffer;
  for (int interim = 0;; ++interim) {
    ReplyParser parser(cx.max_body_bytes, cx.head);
    ec = run_one(ioc, [&](auto handler) { bhttp::async_read(stream, buffer, parser, std::move(handler)); });
    // A TLS peer that closes without close_notify, ending a body delimited by the end of the
    // connection: accept the body as complete, as browsers and curl do.
    if (ec == ssl::error::stream_truncated && parser.is_header_done() && !parser.is_done()) {
      beast::error_code eof_ec;
      parser.put_eof(eof_ec);
      if (!eof_ec && parser.is_done()) ec = {};
    }
    if (is_timeout(ec)) return timeout_error(cx.url, cx.timeout_ms, "reading the reply");
    if (ec == bhttp::error::body_limit)
      return unavailable("http.reply_too_large", "the reply from " + cx.url.origin() + " is larger than " +
                                                     std::to_string(cx.max_body_bytes) + " bytes");
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow)
      return unavailable("http.reply_too_large", "the reply header from " + cx.url.origin() + " is larger than 64 KiB");
    if (ec == bhttp::error::end_of_stream)
      return unavailable("http.connection_failed", cx.url.origin() + " closed the connection without replying");
    if (ec == bhttp::error::partial_message)
      return unavailable("http.connection_failed",
                         cx.url.origin() + " closed the connection in the middle of the reply");
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category())
      return unavailable("http.bad_reply",
                         "the reply from " + cx.url.origin() + " is not valid HTTP/1.x: " + ec.message());
    if (ec)
      return unavailable("http.connection_failed",
                         "reading the reply from " + cx.url.origin() + " failed: " + ec.message());

    const int status = parser.reply().status;
    if (status >= 100 && status < 200 && status != 101 && interim < kMaxInterimReplies) continue;
    return std::move(parser.reply());
  }
}

Result<IncomingReply> perform(const HttpClient::Options& options, const detail::TlsContext& tls,
                              const OutgoingRequest& request) {
  const auto started = Clock::now();
  QQ_ASSIGN_OR_RETURN(Url url, parse_url(request.url));
  QQ_ASSIGN_OR_RETURN(const std::string head, request_head(request, url, options.user_agent));
  if (request.timeout_ms < 0)
    return Error::invalid("http.bad_timeout", "timeout_ms must be 0 (the default) or positive",
                          {{"timeout_ms", "negative"}});
  const int timeout_ms = std::max(
      1, std::min(request.timeout_ms == 0 ? options.default_timeout_ms : request.timeout_ms, options.max_timeout_ms));
  const auto deadline = started + std::chrono::milliseconds(timeout_ms);
  const Context cx{url, timeout_ms, options.max_body_bytes, request.method == "HEAD"};

  std::vector<tcp::endpoint> endpoints;
  if (url.ip) {
    endpoints.emplace_back(*url.ip, url.port);
  } else {
    auto resolved = resolve_until(url.host, url.port, deadline);
    if (!resolved) return timeout_error(url, timeout_ms, "resolving the host name");
    if (resolved->ec || resolved->endpoints.empty())
      return unavailable("http.unreachable", "cannot resolve " + url.host + ": " +
                                                 (resolved->ec ? resolved->ec.message() : std::string("no addresses")));
    endpoints = std::move(resolved->endpoints);
  }
  if (request.allow_address) {
    std::erase_if(endpoints, [&](const tcp::endpoint& e) { return !request.allow_address(e.address().to_string()); });
    if (endpoints.empty())
      return unavailable("http.address_refused", "every address of " + url.host +
                                                     " is refused (private, loopback or reserved, and not allowed)");
  }

  net::io_context ioc;
  auto connect = [&](beast::tcp_stream& tcp_stream) -> Result<Ok> {
    tcp_stream.expires_at(deadline);
    auto ec = run_one(ioc, [&](auto handler) { tcp_stream.async_connect(endpoints, std::move(handler)); });
    if (is_timeout(ec)) return timeout_error(url, timeout_ms, "connecting");
    if (ec) return unavailable("http.unreachable", "cannot connect to " + url.origin() + ": " + ec.message());
    return Ok{};
  };

  if (!url.tls) {
    beast::tcp_stream stream(ioc);
    QQ_TRY(connect(stream));
    return exchange(ioc, stream, head, request.body, cx);
  }

  beast::ssl_stream<beast::tcp_stream> stream(ioc, tls.ctx);
  // SNI carries DNS names only (RFC 6066); the certificate is checked against the name or the
  // IP address either way.
  if (!url.ip && SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()) != 1)
    return unavailable("http.tls_failed", "cannot set the TLS server name for " + url.origin());
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(ssl::host_name_verification(url.host));
  QQ_TRY(connect(beast::get_lowest_layer(stream)));
  auto ec = run_one(ioc, [&](auto handler) { stream.async_handshake(ssl::stream_base::client, std::move(handler)); });
  if (is_timeout(ec)) return timeout_error(url, timeout_ms, "the TLS handshake");
  if (ec) {
    std::string reason = ec.message();
    const long verify = SSL_get_verify_result(stream.native_handle());
    if (verify != X509_V_OK) reason += ": " + std::string(X509_verify_cert_error_string(verify));
    return unavailable("http.tls_failed", "the TLS handshake with " + url.origin() + " failed: " + reason);
  }
  return exchange(ioc, stream, head, request.body, cx);
}

}  // namespace

HttpClient::HttpClient(Options options) : options_(std::move(options)) {
  try {
    auto tls = std::make_shared<detail::TlsContext>();
    tls->ctx.set_default_verify_paths();
    tls->ctx.set_verify_mode(ssl::verify_peer);
    if (SSL_CTX_set_min_proto_version(tls->ctx.native_handle(), TLS1_2_VERSION) != 1)
      throw std::runtime_error("cannot require TLS 1.2");
    tls_ = std::move(tls);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot create the TLS client context: ") + e.what());
  }
}

Result<IncomingReply> HttpClient::send(const OutgoingRequest& request) const {
  try {
    return perform(options_, *tls_, request);
  } catch (const std::exception& e) {
    return Error::internal("the outgoing HTTP request failed unexpectedly", e.what());
  }
}

}  // namespace quanqu::http
