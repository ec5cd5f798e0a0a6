// Tests of the outgoing HTTP client against a small Beast server on 127.0.0.1: round trips, limits, errors, timeouts.
#include "http/http_client.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace quanqu::http {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// One connection of the test server, in raw Asio so that header order and sizes are exactly
// what the test says (Beast's fields container groups repeated names and caps value sizes).
// The request must carry Content-Length if it has a body (the client always does). Routes:
//   /delay/<ms>          echo after <ms> milliseconds
//   /status/<n>          echo with status n
//   /huge/<n>            n bytes of 'x' with Content-Length; /huge-chunked/<n> chunked; /huge-eof/<n>
//                        delimited by closing the connection
//   /headers-out         a reply with X-Custom-One, Set-Cookie, X-Custom-Two, Set-Cookie in that order
//   /big-header          a reply whose header is about 70 KiB
//   /early-hints         a 103 interim reply, then 200 "ok"
//   /garbage             bytes that are not HTTP, then close;  /close  close without replying
//   anything else        200 with JSON {method, target, headers: [[name, value], ...], body}
// HEAD replies carry the Content-Length of the echo but no body.
class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)), timer_(socket_.get_executor()) {}

  void start() { read_header(); }

 private:
  void read_header() {
    auto chunk = std::make_shared<std::array<char, 4096>>();
    socket_.async_read_some(net::buffer(*chunk),
                            [self = shared_from_this(), chunk](beast::error_code ec, std::size_t n) {
                              if (ec) return;
                              self->input_.append(chunk->data(), n);
                              // Not a request line (a TLS ClientHello, say): answer as a plain HTTP server would.
                              if (self->input_[0] < 'A' || self->input_[0] > 'Z')
                                return self->write("HTTP/1.1 400 Bad Request\r\n\r\n");
                              const auto end = self->input_.find("\r\n\r\n");
                              if (end == std::string::npos) return self->read_header();
                              self->on_header(end + 4);
                            });
  }

  void on_header(std::size_t header_end) {
    std::istringstream lines(input_.substr(0, header_end - 2));
    std::string line;
    std::getline(lines, line);
    std::istringstream request_line(line);
    request_line >> method_ >> target_;
    std::size_t content_length = 0;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      const auto colon = line.find(':');
      if (colon == std::string::npos) return write("HTTP/1.1 400 Bad Request\r\n\r\n");
      std::string name = line.substr(0, colon);
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "Content-Length") content_length = std::stoul(value);
      headers_.emplace_back(std::move(name), std::move(value));
    }
    input_.erase(0, header_end);
    if (input_.size() >= content_length) return route();
    net::async_read(socket_, net::dynamic_buffer(input_), net::transfer_exactly(content_length - input_.size()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      if (!ec) self->route();
                    });
  }

  void route() {
    auto number_after = [&](std::string_view prefix) -> std::optional<std::size_t> {
      if (target_.rfind(prefix, 0) != 0) return std::nullopt;
      return std::stoul(target_.substr(prefix.size()));
    };
    if (auto ms = number_after("/delay/")) {
      timer_.expires_after(std::chrono::milliseconds(*ms));
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->echo(200);
      });
    } else if (auto status = number_after("/status/")) {
      echo(static_cast<int>(*status));
    } else if (auto n = number_after("/huge/")) {
      write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(*n) + "\r\n\r\n" + std::string(*n, 'x'));
    } else if (auto n = number_after("/huge-chunked/")) {
      std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
      for (std::size_t left = *n; left > 0;) {
        const std::size_t chunk = std::min<std::size_t>(left, 1000);
        std::ostringstream size;
        size << std::hex << chunk;
        out += size.str() + "\r\n" + std::string(chunk, 'x') + "\r\n";
        left -= chunk;
      }
      write(out + "0\r\n\r\n");
    } else if (auto n = number_after("/huge-eof/")) {
      write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(*n, 'x'));
    } else if (target_ == "/headers-out") {
      write(
          "HTTP/1.1 200 OK\r\nX-Custom-One: a\r\nSet-Cookie: first=1\r\nX-Custom-Two: b\r\n"
          "Set-Cookie: second=2\r\nContent-Length: 1\r\n\r\nh");
    } else if (target_ == "/big-header") {
      write("HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 * 1024, 'y') + "\r\nContent-Length: 1\r\n\r\nb");
    } else if (target_ == "/early-hints") {
      write(
          "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: yes\r\n\r\nok");
    } else if (target_ == "/garbage") {
      write("hello there\r\n\r\n");
    } else if (target_ == "/close") {
      close();
    } else {
      echo(200);
    }
  }

  void echo(int status) {
    json headers = json::array();
    for (const auto& [name, value] : headers_) headers.push_back({name, value});
    json out = {{"method", method_}, {"target", target_}, {"headers", headers}, {"body", input_}};
    const std::string body = out.dump(-1, ' ', false, json::error_handler_t::replace);  // values may be Latin-1
    std::string head = "HTTP/1.1 " + std::to_string(status) + " Status\r\nContent-Type: application/json\r\n";
    if (status == 204) return write(head + "\r\n");
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    write(method_ == "HEAD" ? head : head + body);
  }

  void write(std::string data) {
    auto bytes = std::make_shared<std::string>(std::move(data));
    net::async_write(socket_, net::buffer(*bytes),
                     [self = shared_from_this(), bytes](beast::error_code, std::size_t) { self->close(); });
  }

  void close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  std::string input_;  // the header, then the body
  std::string method_;
  std::string target_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

// The test server: one io thread, any number of concurrent connections.
class TestServer {
 public:
  explicit TestServer(const std::string& address = "127.0.0.1")
      : acceptor_(ioc_, tcp::endpoint(net::ip::make_address(address), 0)) {
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TestServer() {
    ioc_.stop();
    thread_.join();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port()) + path; }
  int connections() const { return connections_.load(); }

 private:
  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      ++connections_;
      std::make_shared<Session>(std::move(socket))->start();
      accept();
    });
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// Requests are built member by member: g++ 12 warns (-Wmissing-field-initializers) about
// designated initializers that leave members to their defaults.
OutgoingRequest with_body(std::string method, std::string url, std::string body, Headers headers = {},
                          int timeout_ms = 0) {
  OutgoingRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.headers = std::move(headers);
  request.body = std::move(body);
  request.timeout_ms = timeout_ms;
  return request;
}
OutgoingRequest get(std::string url, int timeout_ms = 0) {
  return with_body("GET", std::move(url), "", {}, timeout_ms);
}

// The value of the first header named `name` (compared exactly), or nothing.
std::optional<std::string> header(const Headers& headers, const std::string& name) {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return std::nullopt;
}

// The headers the server received, from an echo body.
Headers echoed_headers(const json& echo) {
  Headers out;
  for (const auto& h : echo.at("headers")) out.emplace_back(h.at(0).get<std::string>(), h.at(1).get<std::string>());
  return out;
}

long long millis_since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

// A TLS server on 127.0.0.1 with a self-signed certificate (made in memory) for 127.0.0.1 and
// localhost; it answers every request with 200 "ok". Handshakes the client rejects are ignored.
class SelfSignedTlsServer {
 public:
  SelfSignedTlsServer()
      : ctx_(net::ssl::context::tls_server), acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    if (!key || !cert) throw std::runtime_error("cannot make a key or a certificate");
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), name);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
    std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)> san(
        X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"), X509_EXTENSION_free);
    if (!san || X509_add_ext(cert.get(), san.get(), -1) != 1 || X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
      throw std::runtime_error("cannot sign the certificate");
    if (SSL_CTX_use_certificate(ctx_.native_handle(), cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx_.native_handle(), key.get()) != 1)
      throw std::runtime_error("cannot use the certificate");
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~SelfSignedTlsServer() {
    ioc_.stop();
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  int handshakes() const { return handshakes_.load(); }

 private:
  using TlsSocket = net::ssl::stream<tcp::socket>;
  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto stream = std::make_shared<TlsSocket>(std::move(socket), ctx_);
      stream->async_handshake(net::ssl::stream_base::server, [this, stream](beast::error_code ec) {
        if (ec) return;
        ++handshakes_;
        static const std::string kReply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        net::async_write(*stream, net::buffer(kReply), [stream](beast::error_code, std::size_t) {});
      });
      accept();
    });
  }

  net::io_context ioc_;
  net::ssl::context ctx_;
  tcp::acceptor acceptor_;
  std::atomic<int> handshakes_{0};
  std::thread thread_;
};

TEST(HttpClient, GetRoundTrip) {
  TestServer server;
  HttpClient client;
  const auto start = SteadyClock::now();
  auto reply = client.send(get(server.url("/items/7?q=a%20b&x=1"), 30000));
  ASSERT_TRUE(reply.ok()) << reply.error().code << ": " << reply.error().message;
  // A finished exchange does not wait for its deadline.
  EXPECT_LT(millis_since(start), 5000);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(header(reply->headers, "content-type"), "application/json");
  auto echo = json::parse(reply->body);
  EXPECT_EQ(echo["method"], "GET");
  EXPECT_EQ(echo["target"], "/items/7?q=a%20b&x=1");
  EXPECT_EQ(echo["body"], "");
  auto sent = echoed_headers(echo);
  EXPECT_EQ(header(sent, "Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(header(sent, "User-Agent"), "Quanqu");
  EXPECT_EQ(header(sent, "Connection"), "close");
  EXPECT_EQ(header(sent, "Content-Length"), std::nullopt);
}

// The address filter sees the resolved addresses; one it refuses is never connected to.
TEST(HttpClient, AllowAddressFiltersTheAddressesConnectedTo) {
  TestServer server;
  HttpClient client;
  std::vector<std::string> asked;
  auto request = get(server.url("/hooks"), 30000);
  request.allow_address = [&](const std::string& ip) {
    asked.push_back(ip);
    return false;
  };
  auto refused = client.send(request);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "http.address_refused");
  EXPECT_EQ(asked, std::vector<std::string>{"127.0.0.1"});
  request.allow_address = [](const std::string& ip) { return ip == "127.0.0.1"; };
  auto allowed = client.send(request);
  ASSERT_TRUE(allowed.ok()) << allowed.error().code << ": " << allowed.error().message;
  EXPECT_EQ(allowed->status, 200);
  // A name is filtered by what it resolves to.
  request.url = "http://localhost:" + std::to_string(server.port()) + "/hooks";
  request.allow_address = [](const std::string&) { return false; };
  auto by_name = client.send(request);
  ASSERT_FALSE(by_name.ok());
  EXPECT_EQ(by_name.error().code, "http.address_refused");
}

TEST(HttpClient, PostPutPatchDeleteSendBodyAndContentLength) {
  TestServer server;
  HttpClient client;
  for (std::string method : {"POST", "PUT", "PATCH", "DELETE"}) {
    auto reply = client.send(
        with_body(method, server.url("/pay"), R"({"amount":1250})", {{"Content-Type", "application/json"}}));
    ASSERT_TRUE(reply.ok()) << method << " " << reply.error().code << ": " << reply.error().message;
    auto echo = json::parse(reply->body);
    EXPECT_EQ(echo["method"], method);
    EXPECT_EQ(echo["body"], R"({"amount":1250})");
    auto sent = echoed_headers(echo);
    EXPECT_EQ(header(sent, "Content-Length"), "15") << method;
    EXPECT_EQ(header(sent, "Content-Type"), "application/json") << method;
  }
  // An empty POST still says how long its body is; an empty DELETE does not.
  auto post = client.send(with_body("POST", server.url("/empty"), ""));
  ASSERT_TRUE(post.ok()) << post.error().message;
  EXPECT_EQ(header(echoed_headers(json::parse(post->body)), "Content-Length"), "0");
  auto del = client.send(with_body("DELETE", server.url("/empty"), ""));
  ASSERT_TRUE(del.ok()) << del.error().message;
  EXPECT_EQ(header(echoed_headers(json::parse(del->body)), "Content-Length"), std::nullopt);
}

TEST(HttpClient, RequestHeadersSentInOrderAndReplyHeadersLowerCased) {
  TestServer server;
  HttpClient::Options options;
  options.user_agent = "Quanqu-Test/1";
  HttpClient client(options);
  auto reply = client.send(with_body("GET", server.url("/echo"), "",
                                     {{"X-Trace-Id", "t-1"}, {"Accept", "application/json"}, {"X-Trace-Id", "t-2"}}));
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  auto sent = echoed_headers(json::parse(reply->body));
  Headers custom;
  for (const auto& h : sent)
    if (h.first == "X-Trace-Id" || h.first == "Accept") custom.push_back(h);
  EXPECT_EQ(custom, (Headers{{"X-Trace-Id", "t-1"}, {"Accept", "application/json"}, {"X-Trace-Id", "t-2"}}));
  EXPECT_EQ(header(sent, "User-Agent"), "Quanqu-Test/1");

  auto out = client.send(get(server.url("/headers-out")));
  ASSERT_TRUE(out.ok()) << out.error().message;
  Headers expected = {
      {"x-custom-one", "a"}, {"set-cookie", "first=1"}, {"x-custom-two", "b"}, {"set-cookie", "second=2"}};
  Headers got;
  for (const auto& h : out->headers) {
    EXPECT_EQ(h.first, [&] {
      std::string lower = h.first;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return lower;
    }());
    if (h.first == "x-custom-one" || h.first == "x-custom-two" || h.first == "set-cookie") got.push_back(h);
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(header(out->headers, "content-length"), "1");
}

TEST(HttpClient, CallerUserAgentReplacesTheDefault) {
  TestServer server;
  HttpClient client;
  auto reply = client.send(with_body("GET", server.url("/"), "", {{"user-agent", "Plugin/2.0"}}));
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  auto sent = echoed_headers(json::parse(reply->body));
  int user_agents = 0;
  for (const auto& h : sent)
    if (h.first == "User-Agent" || h.first == "user-agent") ++user_agents;
  EXPECT_EQ(user_agents, 1);
  EXPECT_EQ(header(sent, "user-agent"), "Plugin/2.0");
}

TEST(HttpClient, ErrorAndRedirectStatusesAreReplies) {
  TestServer server;
  HttpClient client;
  for (int status : {201, 204, 302, 400, 404, 418, 500, 503}) {
    auto reply = client.send(get(server.url("/status/" + std::to_string(status))));
    ASSERT_TRUE(reply.ok()) << status << " " << reply.error().code << ": " << reply.error().message;
    EXPECT_EQ(reply->status, status);
    if (status != 204) {
      EXPECT_EQ(json::parse(reply->body)["target"], "/status/" + std::to_string(status));
    }
  }
}

TEST(HttpClient, HeadReadsNoBody) {
  TestServer server;
  HttpClient client;
  auto reply = client.send(with_body("HEAD", server.url("/thing"), "", {}, 3000));
  ASSERT_TRUE(reply.ok()) << reply.error().code << ": " << reply.error().message;
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "");
  ASSERT_TRUE(header(reply->headers, "content-length").has_value());
  EXPECT_GT(std::stoi(*header(reply->headers, "content-length")), 0);
}

TEST(HttpClient, UrlFormsAccepted) {
  TestServer server;
  HttpClient client;
  const std::string port = std::to_string(server.port());
  struct Case {
    std::string url;
    std::string target;
  };
  for (const auto& c : std::vector<Case>{{"http://127.0.0.1:" + port, "/"},
                                         {"HTTP://127.0.0.1:" + port + "?a=1", "/?a=1"},
                                         {"http://127.0.0.1:" + port + "/p/q?x=%2F#fragment", "/p/q?x=%2F"},
                                         {"http://localhost:" + port + "/by-name", "/by-name"}}) {
    auto reply = client.send(get(c.url, 5000));
    ASSERT_TRUE(reply.ok()) << c.url << " " << reply.error().code << ": " << reply.error().message;
    auto echo = json::parse(reply->body);
    EXPECT_EQ(echo["target"], c.target) << c.url;
  }
  auto named = client.send(get("http://LocalHost:" + port + "/"));
  ASSERT_TRUE(named.ok()) << named.error().message;
  EXPECT_EQ(header(echoed_headers(json::parse(named->body)), "Host"), "localhost:" + port);
}

TEST(HttpClient, Ipv6Literal) {
  std::unique_ptr<TestServer> server;
  try {
    server = std::make_unique<TestServer>("::1");
  } catch (const std::exception& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  HttpClient client;
  const std::string port = std::to_string(server->port());
  auto reply = client.send(get("http://[::1]:" + port + "/six", 5000));
  ASSERT_TRUE(reply.ok()) << reply.error().code << ": " << reply.error().message;
  auto echo = json::parse(reply->body);
  EXPECT_EQ(echo["target"], "/six");
  EXPECT_EQ(header(echoed_headers(echo), "Host"), "[::1]:" + port);
}

TEST(HttpClient, BadUrlsAreRefused) {
  HttpClient client;
  for (std::string url : {"",
                          "example.com/x",
                          "ftp://example.com/",
                          "https//example.com",
                          "http://",
                          "http:///path",
                          "http://user:secret@example.com/",
                          "http://@example.com/",
                          "http://example.com:/",
                          "http://example.com:0/",
                          "http://example.com:65536/",
                          "http://example.com:8x/",
                          "http://example.com:123456/",
                          "http://[::1/",
                          "http://[not-v6]/",
                          "http://[::1]x/",
                          "http://[fe80::1%25eth0]/",
                          "http://999.1.1.1/",
                          "http://1.2.3/",
                          "http://exa mple.com/",
                          "http://example.com/a b",
                          "http://example.com/\r\nX-Injected: 1",
                          "http://example.com/caf\xc3\xa9",
                          "http://example.com/\"quoted\"",
                          "http://exa\x01mple.com/"}) {
    auto reply = client.send(get(url));
    ASSERT_FALSE(reply.ok()) << "accepted: " << url;
    EXPECT_EQ(reply.error().kind, ErrorKind::invalid_argument) << url;
    EXPECT_EQ(reply.error().code, "http.bad_url") << url;
    EXPECT_FALSE(reply.error().message.empty()) << url;
  }
}

TEST(HttpClient, BadMethodsAreRefused) {
  TestServer server;
  HttpClient client;
  for (std::string method : {"", "get", "TRACE", "CONNECT", "OPTIONS", "GET ", "G\r\nET"}) {
    auto reply = client.send(with_body(method, server.url("/"), ""));
    ASSERT_FALSE(reply.ok()) << "accepted: " << method;
    EXPECT_EQ(reply.error().kind, ErrorKind::invalid_argument);
    EXPECT_EQ(reply.error().code, "http.bad_method");
  }
  EXPECT_EQ(server.connections(), 0);
}

TEST(HttpClient, HeaderInjectionAndClientOwnedHeadersAreRefused) {
  TestServer server;
  HttpClient client;
  Headers bad = {
      {"X-A", "v\r\nInjected: 1"},
      {"X-A", "v\n"},
      {"X-A", "v\r"},
      {"X-A\r\nInjected", "1"},
      {"X A", "v"},
      {"X:A", "v"},
      {"", "v"},
      {"X-A", std::string("a\0b", 3)},
      {"X-A", "bell\x07"},
      {"X-A", "del\x7f"},
      {"Host", "evil.example"},
      {"content-length", "5"},
      {"TRANSFER-ENCODING", "chunked"},
      {"Connection", "keep-alive"},
  };
  for (const auto& h : bad) {
    auto reply = client.send(with_body("POST", server.url("/"), "x", {{"X-Ok", "fine"}, h}));
    ASSERT_FALSE(reply.ok()) << "accepted header " << h.first << ": " << h.second;
    EXPECT_EQ(reply.error().kind, ErrorKind::invalid_argument);
    EXPECT_EQ(reply.error().code, "http.bad_header") << h.first;
  }
  EXPECT_EQ(server.connections(), 0);  // refused before connecting
  // A tab and bytes above 0x7f are allowed in values.
  auto ok = client.send(with_body("GET", server.url("/"), "", {{"X-Tab", "a\tb"}, {"X-Latin", "caf\xe9"}}));
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

TEST(HttpClient, NegativeTimeoutIsRefused) {
  HttpClient client;
  auto reply = client.send(get("http://127.0.0.1:1/", -5));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(reply.error().code, "http.bad_timeout");
}

TEST(HttpClient, SlowServerTimesOut) {
  TestServer server;
  HttpClient client;
  const auto start = SteadyClock::now();
  auto reply = client.send(get(server.url("/delay/3000"), 200));
  const auto elapsed = millis_since(start);
  ASSERT_FALSE(reply.ok()) << "got status " << reply->status;
  EXPECT_EQ(reply.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(reply.error().code, "http.timeout");
  EXPECT_NE(reply.error().message.find("200 ms"), std::string::npos) << reply.error().message;
  EXPECT_GE(elapsed, 150);
  EXPECT_LT(elapsed, 1000);
  // Within its deadline the same route succeeds.
  auto fast = client.send(get(server.url("/delay/50"), 5000));
  EXPECT_TRUE(fast.ok()) << fast.error().message;
}

TEST(HttpClient, DefaultTimeoutAppliesAndLongTimeoutsAreClamped) {
  TestServer server;
  HttpClient::Options options;
  options.default_timeout_ms = 200;
  options.max_timeout_ms = 300;
  HttpClient client(options);
  auto start = SteadyClock::now();
  auto by_default = client.send(get(server.url("/delay/3000")));
  ASSERT_FALSE(by_default.ok());
  EXPECT_EQ(by_default.error().code, "http.timeout");
  EXPECT_LT(millis_since(start), 1000);

  start = SteadyClock::now();
  auto clamped = client.send(get(server.url("/delay/3000"), 100000));
  ASSERT_FALSE(clamped.ok());
  EXPECT_EQ(clamped.error().code, "http.timeout");
  EXPECT_LT(millis_since(start), 1000);
}

TEST(HttpClient, RefusedConnectionIsUnreachable) {
  unsigned short port = 0;
  {
    net::io_context ioc;
    tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    port = acceptor.local_endpoint().port();
  }  // closed: nothing listens there now
  HttpClient client;
  auto reply = client.send(get("http://127.0.0.1:" + std::to_string(port) + "/", 5000));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(reply.error().code, "http.unreachable");
  EXPECT_NE(reply.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << reply.error().message;
  EXPECT_NE(reply.error().message.find("refused"), std::string::npos) << reply.error().message;
}

TEST(HttpClient, UnresolvableHostIsUnavailable) {
  HttpClient client;
  auto reply = client.send(get("http://no-such-host.invalid/", 3000));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().kind, ErrorKind::unavailable);
  // Without a resolver answering in time this is a timeout; usually it is a clear "not found".
  EXPECT_TRUE(reply.error().code == "http.unreachable" || reply.error().code == "http.timeout") << reply.error().code;
}

TEST(HttpClient, ReplyLargerThanTheLimitIsRefused) {
  TestServer server;
  HttpClient::Options options;
  options.max_body_bytes = 1024;
  HttpClient client(options);
  auto at_limit = client.send(get(server.url("/huge/1024")));
  ASSERT_TRUE(at_limit.ok()) << at_limit.error().message;
  EXPECT_EQ(at_limit->body, std::string(1024, 'x'));
  auto chunked_at_limit = client.send(get(server.url("/huge-chunked/1024")));
  ASSERT_TRUE(chunked_at_limit.ok()) << chunked_at_limit.error().message;
  EXPECT_EQ(chunked_at_limit->body.size(), 1024u);
  auto eof_at_limit = client.send(get(server.url("/huge-eof/1024")));
  ASSERT_TRUE(eof_at_limit.ok()) << eof_at_limit.error().message;
  EXPECT_EQ(eof_at_limit->body.size(), 1024u);

  for (std::string path : {"/huge/1025", "/huge-chunked/4096", "/huge-eof/4096"}) {
    auto reply = client.send(get(server.url(path), 5000));
    ASSERT_FALSE(reply.ok()) << path;
    EXPECT_EQ(reply.error().kind, ErrorKind::unavailable) << path;
    EXPECT_EQ(reply.error().code, "http.reply_too_large") << path;
  }

  HttpClient defaults;
  auto nine_mib = defaults.send(get(server.url("/huge/" + std::to_string(9 * 1024 * 1024)), 20000));
  ASSERT_FALSE(nine_mib.ok());
  EXPECT_EQ(nine_mib.error().code, "http.reply_too_large");
  auto big_header = defaults.send(get(server.url("/big-header"), 5000));
  ASSERT_FALSE(big_header.ok());
  EXPECT_EQ(big_header.error().code, "http.reply_too_large");
}

TEST(HttpClient, InterimRepliesAreSkipped) {
  TestServer server;
  HttpClient client;
  auto reply = client.send(get(server.url("/early-hints"), 5000));
  ASSERT_TRUE(reply.ok()) << reply.error().code << ": " << reply.error().message;
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "ok");
  EXPECT_EQ(header(reply->headers, "x-final"), "yes");
  EXPECT_EQ(header(reply->headers, "link"), std::nullopt);
}

TEST(HttpClient, BrokenRepliesAreErrors) {
  TestServer server;
  HttpClient client;
  auto garbage = client.send(get(server.url("/garbage"), 5000));
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(garbage.error().code, "http.bad_reply");
  auto closed = client.send(get(server.url("/close"), 5000));
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(closed.error().code, "http.connection_failed");
}

TEST(HttpClient, HttpsToAPlainHttpServerFailsTheHandshake) {
  TestServer server;
  HttpClient client;
  const auto start = SteadyClock::now();
  auto reply = client.send(get("https://127.0.0.1:" + std::to_string(server.port()) + "/", 5000));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(reply.error().code, "http.tls_failed") << reply.error().message;
  EXPECT_LT(millis_since(start), 4000);
  EXPECT_NE(reply.error().message.find("https://127.0.0.1:"), std::string::npos) << reply.error().message;
}

TEST(HttpClient, HttpsRefusesAnUntrustedCertificate) {
  SelfSignedTlsServer server;
  HttpClient client;
  for (std::string host : {"127.0.0.1", "localhost"}) {
    auto reply = client.send(get("https://" + host + ":" + std::to_string(server.port()) + "/", 5000));
    ASSERT_FALSE(reply.ok()) << host << ": a self-signed certificate was accepted";
    EXPECT_EQ(reply.error().kind, ErrorKind::unavailable);
    EXPECT_EQ(reply.error().code, "http.tls_failed") << reply.error().message;
    EXPECT_NE(reply.error().message.find("certificate verify failed"), std::string::npos) << reply.error().message;
  }
  EXPECT_EQ(server.handshakes(), 0);
}

TEST(HttpClient, HttpsHandshakeWithASilentPeerTimesOut) {
  // The kernel completes the TCP handshake for a listening socket nobody accepts on, and
  // nothing ever answers the ClientHello.
  net::io_context ioc;
  tcp::acceptor silent(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  HttpClient client;
  const auto start = SteadyClock::now();
  auto reply = client.send(get("https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/", 200));
  const auto elapsed = millis_since(start);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(reply.error().code, "http.timeout") << reply.error().message;
  EXPECT_NE(reply.error().message.find("TLS"), std::string::npos) << reply.error().message;
  EXPECT_LT(elapsed, 1000);
}

TEST(HttpClient, ConcurrentRequests) {
  TestServer server;
  const HttpClient client;
  constexpr int kThreads = 8;
  constexpr int kRequests = 20;
  std::atomic<int> successes{0};
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        const std::string body = "thread " + std::to_string(t) + " request " + std::to_string(i);
        auto reply = client.send(
            with_body("POST", server.url("/c/" + std::to_string(t) + "/" + std::to_string(i)), body, {}, 10000));
        if (!reply.ok()) {
          failures[t] += reply.error().code + ": " + reply.error().message + "\n";
          continue;
        }
        auto echo = json::parse(reply->body);
        if (reply->status == 200 && echo["body"] == body &&
            echo["target"] == "/c/" + std::to_string(t) + "/" + std::to_string(i)) {
          ++successes;
        } else {
          failures[t] += "wrong echo: " + reply->body + "\n";
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& f : failures) EXPECT_EQ(f, "");
  EXPECT_EQ(successes.load(), kThreads * kRequests);
  EXPECT_EQ(server.connections(), kThreads * kRequests);
}

}  // namespace
}  // namespace quanqu::http
