// Tests of the HTTP server over loopback: keep-alive, limits, request ids, decoding, CORS, errors, stop.
#include "http/log.h"
#include "http/metrics.h"
#include "http/problem.h"
#include "http/router.h"
#include "http/server.h"

#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace quanqu::http {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

using BeastResponse = bhttp::response<bhttp::string_body>;

std::string str(beast::string_view s) {
  return std::string(s.data(), s.size());
}

// A blocking test client with a 5 s deadline on every operation, so a broken server fails the
// test instead of hanging it.
class Client {
 public:
  explicit Client(unsigned short port) {
    ec_ =
        await([&](auto done) { stream_.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), done); });
  }
  bool connected() const { return !ec_; }

  beast::error_code write_raw(const std::string& data) {
    return await([&](auto done) { net::async_write(stream_, net::buffer(data), done); });
  }

  // `head`: the response answers a HEAD request, so it has no body whatever its headers say.
  beast::error_code read(BeastResponse& out, bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.skip(head);
    auto ec = await([&](auto done) { bhttp::async_read(stream_, buffer_, parser, done); });
    if (!ec) out = parser.release();
    return ec;
  }

  BeastResponse request(bhttp::verb method, const std::string& target, std::string body = {},
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = std::move(body);
      req.prepare_payload();
    }
    auto ec = await([&](auto done) { bhttp::async_write(stream_, req, done); });
    if (ec) throw std::runtime_error("write: " + ec.message());
    BeastResponse res;
    ec = read(res);
    if (ec) throw std::runtime_error("read: " + ec.message());
    return res;
  }

  // The error of the next read: end_of_stream once the server has closed the connection.
  beast::error_code next_read_error() {
    BeastResponse res;
    return read(res);
  }

 private:
  template <class Start>
  beast::error_code await(Start start) {
    beast::error_code result = net::error::timed_out;
    stream_.expires_after(5s);
    start([&](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  net::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  beast::error_code ec_;
};

json body_json(const BeastResponse& r) {
  return json::parse(r.body());
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add("GET", "/echo", [this](Request& r) { return echo(r); });
    router_.add("POST", "/echo", [this](Request& r) { return echo(r); });
    router_.add("GET", "/files/{name}", [](Request& r) { return Response::json(200, {{"name", r.param("name")}}); });
    router_.add("GET", "/throw", [](Request&) -> Response { throw std::runtime_error("boom"); });
    router_.add("GET", "/slow", [this](Request&) {
      slow_entered_ = true;
      std::this_thread::sleep_for(500ms);
      return Response::json(200, {{"slow", true}});
    });
  }

  void TearDown() override { stop(); }

  void start(ServerOptions options = {}) {
    options.port = 0;
    if (options.cors_origins.empty()) options.cors_origins = {"https://shop.example"};
    options.body_limit = body_limit_;
    server_ = std::make_unique<Server>(
        options,
        [this](Request& r) -> Response {
          ++handled_;
          if (r.path == "/raw-throw") throw std::logic_error("raw");
          return router_.dispatch(r);
        },
        metrics_, logger_);
    server_->start();
    runner_ = std::async(std::launch::async, [this] { server_->run(); });
  }

  void stop() {
    if (!server_) return;
    server_->stop();
    ASSERT_EQ(runner_.wait_for(5s), std::future_status::ready) << "run() did not return after stop()";
    runner_.get();
    server_.reset();
  }

  Response echo(const Request& r) {
    json headers = json::object();
    for (const auto& [k, v] : r.headers) headers[k] = v;
    json query = json::object();
    for (const auto& [k, v] : r.query) query[k] = v;
    return Response::json(200, {{"method", r.method},
                                {"path", r.path},
                                {"query", query},
                                {"headers", headers},
                                {"body", r.body},
                                {"request_id", r.request_id},
                                {"remote", r.remote_address},
                                {"route", r.route}});
  }

  unsigned short port() const { return server_->port(); }

  std::size_t body_limit_ = 1024;
  Router router_;
  Metrics metrics_;
  std::ostringstream log_;
  Logger logger_{LogLevel::debug, log_};
  std::unique_ptr<Server> server_;
  std::future<void> runner_;
  std::atomic<int> handled_{0};
  std::atomic<bool> slow_entered_{false};
};

TEST(PercentDecode, DecodesEscapesAndOptionallyPlus) {
  EXPECT_EQ(percent_decode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%e2%82%AC", false), "\xE2\x82\xAC");
  EXPECT_FALSE(percent_decode("%", false));
  EXPECT_FALSE(percent_decode("abc%2", false));
  EXPECT_FALSE(percent_decode("%zz", false));
  EXPECT_FALSE(percent_decode("a%00b", false));
}

TEST(RequestId, Validation) {
  EXPECT_TRUE(valid_request_id("abc-123_X.y"));
  EXPECT_TRUE(valid_request_id(std::string(128, 'a')));
  EXPECT_FALSE(valid_request_id(""));
  EXPECT_FALSE(valid_request_id(std::string(129, 'a')));
  EXPECT_FALSE(valid_request_id("has space"));
  EXPECT_FALSE(valid_request_id("semi;colon"));
}

TEST_F(ServerTest, PortZeroBindsARealPort) {
  start();
  EXPECT_NE(port(), 0);
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  Client c(port());
  ASSERT_TRUE(c.connected());
  auto first = c.request(bhttp::verb::get, "/echo");
  EXPECT_EQ(first.result_int(), 200);
  EXPECT_TRUE(first.keep_alive());
  EXPECT_EQ(str(first[bhttp::field::server]), "quanqu");
  EXPECT_EQ(str(first[bhttp::field::content_type]), "application/json");
  EXPECT_EQ(str(first[bhttp::field::content_length]), std::to_string(first.body().size()));
  EXPECT_FALSE(first[bhttp::field::date].empty());
  auto second = c.request(bhttp::verb::post, "/echo", R"({"a":1})", {{"X-Custom", "Yes"}});
  EXPECT_EQ(second.result_int(), 200);
  auto j = body_json(second);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["body"], R"({"a":1})");
  EXPECT_EQ(j["headers"]["x-custom"], "Yes");
  EXPECT_EQ(j["remote"], "127.0.0.1");
  EXPECT_EQ(j["route"], "/echo");
}

TEST_F(ServerTest, KeepAliveRequestsArrivingInPiecesOrMalformed) {
  start();
  Client c(port());
  ASSERT_EQ(c.request(bhttp::verb::get, "/echo").result_int(), 200);
  // The next request's header is split across two writes: the first bytes do not complete it.
  ASSERT_FALSE(c.write_raw("GET /echo?part=1 HTTP/1.1\r\nHo"));
  std::this_thread::sleep_for(50ms);
  ASSERT_FALSE(c.write_raw("st: x\r\n\r\n"));
  BeastResponse split;
  ASSERT_FALSE(c.read(split));
  EXPECT_EQ(body_json(split)["query"]["part"], "1");
  // A body sent with its header on a kept-alive connection.
  ASSERT_FALSE(c.write_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{\"a\":1}"));
  BeastResponse post;
  ASSERT_FALSE(c.read(post));
  EXPECT_EQ(body_json(post)["body"], R"({"a":1})");
  // A malformed second request is still a 400 problem, then the connection closes.
  ASSERT_FALSE(c.write_raw("GET /echo HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"));
  BeastResponse bad;
  ASSERT_FALSE(c.read(bad));
  EXPECT_EQ(bad.result_int(), 400);
  EXPECT_EQ(body_json(bad)["code"], "malformed_request");
  EXPECT_EQ(c.next_read_error(), bhttp::error::end_of_stream);
}

TEST_F(ServerTest, BodyOverLimitIs413ProblemAndCloses) {
  start();
  Client c(port());
  auto r = c.request(bhttp::verb::post, "/echo", std::string(body_limit_ + 1, 'x'));
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_EQ(str(r[bhttp::field::content_type]), "application/problem+json");
  EXPECT_EQ(body_json(r)["code"], "payload_too_large");
  EXPECT_FALSE(r.keep_alive());
  EXPECT_FALSE(r["X-Request-Id"].empty());
  EXPECT_EQ(c.next_read_error(), bhttp::error::end_of_stream);
  EXPECT_EQ(handled_, 0);
}

TEST_F(ServerTest, ChunkedBodyOverLimitIs413) {
  start();
  Client c(port());
  std::string chunk(body_limit_ + 100, 'x');
  std::ostringstream raw;
  raw << "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      << std::hex << chunk.size() << "\r\n"
      << chunk << "\r\n0\r\n\r\n";
  ASSERT_FALSE(c.write_raw(raw.str()));
  BeastResponse r;
  ASSERT_FALSE(c.read(r));
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_EQ(body_json(r)["code"], "payload_too_large");
}

TEST_F(ServerTest, BodyAtLimitIsAccepted) {
  start();
  Client c(port());
  auto r = c.request(bhttp::verb::post, "/echo", std::string(body_limit_, 'x'));
  EXPECT_EQ(r.result_int(), 200);
}

TEST_F(ServerTest, ExpectContinueIsAnsweredBeforeTheBody) {
  start();
  Client c(port());
  ASSERT_FALSE(c.write_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  BeastResponse interim;
  ASSERT_FALSE(c.read(interim));
  EXPECT_EQ(interim.result_int(), 100);
  ASSERT_FALSE(c.write_raw("hello"));
  BeastResponse r;
  ASSERT_FALSE(c.read(r));
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(body_json(r)["body"], "hello");
}

TEST_F(ServerTest, MalformedHttpIs400AndCloses) {
  start();
  Client c(port());
  ASSERT_FALSE(c.write_raw("GET /echo HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"));
  BeastResponse r;
  ASSERT_FALSE(c.read(r));
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_EQ(body_json(r)["code"], "malformed_request");
  EXPECT_EQ(c.next_read_error(), bhttp::error::end_of_stream);
}

TEST_F(ServerTest, ValidRequestIdIsEchoed) {
  start();
  Client c(port());
  auto r = c.request(bhttp::verb::get, "/echo", {}, {{"X-Request-Id", "abc-123_X.y"}});
  EXPECT_EQ(str(r["X-Request-Id"]), "abc-123_X.y");
  EXPECT_EQ(body_json(r)["request_id"], "abc-123_X.y");
}

TEST_F(ServerTest, MissingOrInvalidRequestIdIsGenerated) {
  start();
  Client c(port());
  for (std::string sent : {std::string(), std::string("not valid!"), std::string(129, 'a')}) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!sent.empty()) headers.emplace_back("X-Request-Id", sent);
    auto r = c.request(bhttp::verb::get, "/echo", {}, headers);
    std::string id = str(r["X-Request-Id"]);
    EXPECT_EQ(id.size(), 32u) << id;
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_EQ(body_json(r)["request_id"], id);
  }
}

TEST_F(ServerTest, PathAndQueryAreDecoded) {
  start();
  Client c(port());
  auto r = c.request(bhttp::verb::get, "/echo?q=hello+world&x=%2Fy&x=last&flag&&e%3D=%C3%A9");
  ASSERT_EQ(r.result_int(), 200);
  auto q = body_json(r)["query"];
  EXPECT_EQ(q["q"], "hello world");
  EXPECT_EQ(q["x"], "last");
  EXPECT_EQ(q["flag"], "");
  EXPECT_EQ(q["e="], "\xC3\xA9");
  EXPECT_EQ(q.size(), 4u);

  auto f = c.request(bhttp::verb::get, "/files/a%20b+c?z=1");
  ASSERT_EQ(f.result_int(), 200);
  EXPECT_EQ(body_json(f)["name"], "a b+c");
}

TEST_F(ServerTest, BadPercentEncodingIs400) {
  start();
  Client c(port());
  for (std::string target : {"/echo?q=%zz", "/echo%", "/files/%00x"}) {
    auto r = c.request(bhttp::verb::get, target);
    EXPECT_EQ(r.result_int(), 400) << target;
    EXPECT_EQ(str(r[bhttp::field::content_type]), "application/problem+json");
    EXPECT_EQ(body_json(r)["code"], "malformed_request");
  }
  EXPECT_EQ(handled_, 0);
}

TEST_F(ServerTest, CorsPreflightIsAnsweredByTheServer) {
  start();
  Client c(port());
  auto r = c.request(bhttp::verb::options, "/echo", {},
                     {{"Origin", "https://shop.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(r.result_int(), 204);
  EXPECT_EQ(str(r["Access-Control-Allow-Origin"]), "https://shop.example");
  EXPECT_EQ(str(r["Access-Control-Allow-Methods"]), "GET, HEAD, POST, PATCH, PUT, DELETE, OPTIONS");
  EXPECT_NE(str(r["Access-Control-Allow-Headers"]).find("X-Publishable-Key"), std::string::npos);
  EXPECT_NE(str(r["Access-Control-Allow-Headers"]).find("Idempotency-Key"), std::string::npos);
  EXPECT_NE(str(r["Access-Control-Allow-Headers"]).find("X-Order-Token"), std::string::npos);
  EXPECT_EQ(str(r["Access-Control-Max-Age"]), "7200");
  EXPECT_EQ(str(r["Vary"]), "Access-Control-Request-Method, Access-Control-Request-Headers, Origin");
  EXPECT_TRUE(r.body().empty());
  EXPECT_EQ(handled_, 0);
}

TEST_F(ServerTest, CorsHeadersOnlyForAllowedOrigins) {
  start();
  Client c(port());
  auto allowed = c.request(bhttp::verb::get, "/echo", {}, {{"Origin", "https://shop.example"}});
  EXPECT_EQ(str(allowed["Access-Control-Allow-Origin"]), "https://shop.example");
  EXPECT_EQ(str(allowed["Vary"]), "Origin");
  EXPECT_NE(str(allowed["Access-Control-Expose-Headers"]).find("X-Request-Id"), std::string::npos);
  EXPECT_NE(str(allowed["Access-Control-Expose-Headers"]).find("Idempotent-Replayed"), std::string::npos);

  auto other = c.request(bhttp::verb::get, "/echo", {}, {{"Origin", "https://evil.example"}});
  EXPECT_TRUE(other["Access-Control-Allow-Origin"].empty());
  auto preflight = c.request(bhttp::verb::options, "/echo", {}, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(preflight.result_int(), 405);  // not answered by CORS: the router says no
}

TEST_F(ServerTest, WildcardOriginAllowsAnyOriginEchoingIt) {
  ServerOptions options;
  options.cors_origins = {"*"};
  start(options);
  Client c(port());
  auto r = c.request(bhttp::verb::get, "/echo", {}, {{"Origin", "http://localhost:3000"}});
  EXPECT_EQ(str(r["Access-Control-Allow-Origin"]), "http://localhost:3000");
}

TEST_F(ServerTest, RouterNotFoundAndMethodNotAllowed) {
  start();
  Client c(port());
  auto missing = c.request(bhttp::verb::get, "/nope");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_EQ(str(missing[bhttp::field::content_type]), "application/problem+json");
  EXPECT_EQ(body_json(missing)["code"], "route_not_found");
  auto wrong = c.request(bhttp::verb::delete_, "/echo");
  EXPECT_EQ(wrong.result_int(), 405);
  EXPECT_EQ(str(wrong["Allow"]), "GET, HEAD, POST");
}

TEST_F(ServerTest, ThrowingHandlerIs500AndTheServerKeepsServing) {
  start();
  Client c(port());
  for (std::string target : {"/throw", "/raw-throw"}) {
    auto r = c.request(bhttp::verb::get, target);
    EXPECT_EQ(r.result_int(), 500) << target;
    EXPECT_EQ(str(r[bhttp::field::content_type]), "application/problem+json");
    EXPECT_EQ(body_json(r)["code"], "internal");
    EXPECT_TRUE(r.keep_alive());
  }
  EXPECT_EQ(c.request(bhttp::verb::get, "/echo").result_int(), 200);
  Client fresh(port());
  EXPECT_EQ(fresh.request(bhttp::verb::get, "/echo").result_int(), 200);
}

TEST_F(ServerTest, InvalidHandlerStatusIs500) {
  router_.add("GET", "/weird", [](Request&) { return Response::text(1234, "?"); });
  start();
  Client c(port());
  auto r = c.request(bhttp::verb::get, "/weird");
  EXPECT_EQ(r.result_int(), 500);
  EXPECT_EQ(body_json(r)["code"], "internal");
  EXPECT_EQ(c.request(bhttp::verb::get, "/echo").result_int(), 200);
}

TEST_F(ServerTest, HeadGetsHeadersWithoutBody) {
  router_.add("HEAD", "/echo", [this](Request& r) { return echo(r); });
  start();
  Client c(port());
  ASSERT_FALSE(c.write_raw("HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  BeastResponse head, get;
  ASSERT_FALSE(c.read(head, /*head=*/true));
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_NE(str(head[bhttp::field::content_length]), "0");
  // Had the HEAD response carried a body, this read would see it instead of a status line.
  ASSERT_FALSE(c.read(get));
  EXPECT_EQ(get.result_int(), 200);
  EXPECT_EQ(body_json(get)["method"], "GET");
}

TEST_F(ServerTest, SharedBodyIsSentAndKeptAliveUntilWritten) {
  auto cached = std::make_shared<const std::string>(std::string(100000, 'x') + "end");
  std::weak_ptr<const std::string> watch = cached;
  router_.add("GET", "/shared", [&cached](Request&) { return Response::shared(200, cached, "text/plain"); });
  router_.add("HEAD", "/shared", [&cached](Request&) { return Response::shared(200, cached, "text/plain"); });
  router_.add("GET", "/shared-null", [](Request&) { return Response::shared(200, nullptr); });
  start();
  Client c(port());
  auto r = c.request(bhttp::verb::get, "/shared");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), *cached);
  EXPECT_EQ(str(r[bhttp::field::content_type]), "text/plain");
  ASSERT_FALSE(c.write_raw("HEAD /shared HTTP/1.1\r\nHost: x\r\n\r\n"));
  BeastResponse head;
  ASSERT_FALSE(c.read(head, /*head=*/true));
  EXPECT_EQ(str(head[bhttp::field::content_length]), std::to_string(cached->size()));
  auto empty = c.request(bhttp::verb::get, "/shared-null");
  EXPECT_EQ(empty.result_int(), 200);
  EXPECT_EQ(empty.body(), "");
  // The server holds no reference once it has stopped.
  stop();
  cached.reset();
  EXPECT_TRUE(watch.expired());
}

TEST_F(ServerTest, KeepAliveRequestsDoNotInheritEachOthersFields) {
  start();
  Client c(port());
  auto first = body_json(c.request(bhttp::verb::post, "/echo?a=1&b=2", R"({"x":1})",
                                   {{"X-Request-Id", "first-id"}, {"X-Extra", "only-first"}}));
  EXPECT_EQ(first["query"]["a"], "1");
  EXPECT_EQ(first["headers"]["x-extra"], "only-first");
  EXPECT_EQ(first["request_id"], "first-id");
  auto second = body_json(c.request(bhttp::verb::get, "/echo?c=3"));
  EXPECT_EQ(second["method"], "GET");
  EXPECT_EQ(second["query"], json({{"c", "3"}}));
  EXPECT_FALSE(second["headers"].contains("x-extra"));
  EXPECT_FALSE(second["headers"].contains("x-request-id"));
  EXPECT_EQ(second["body"], "");
  EXPECT_NE(second["request_id"], "first-id");
  EXPECT_EQ(second["request_id"].get<std::string>().size(), 32u);
  EXPECT_EQ(second["route"], "/echo");
  auto third = body_json(c.request(bhttp::verb::get, "/files/a%20b"));
  EXPECT_EQ(third["name"], "a b");
}

TEST_F(ServerTest, AccessLogAndMetricsAfterEachResponse) {
  start();
  {
    Client c(port());
    c.request(bhttp::verb::get, "/files/abc", {}, {{"X-Request-Id", "log-me-1"}});
    c.request(bhttp::verb::get, "/nowhere");
  }
  stop();
  auto text = metrics_.render();
  EXPECT_NE(text.find(R"(quanqu_http_requests_total{method="GET",route="/files/{name}",status="200"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(quanqu_http_requests_total{method="GET",route="unmatched",status="404"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("quanqu_http_requests_in_flight 0"), std::string::npos);

  bool found = false;
  logger_.flush();
  std::istringstream lines(log_.str());
  for (std::string line; std::getline(lines, line);) {
    auto j = json::parse(line);
    if (j.value("msg", "") != "request" || j.value("request_id", "") != "log-me-1") continue;
    found = true;
    EXPECT_EQ(j["level"], "info");
    EXPECT_EQ(j["method"], "GET");
    EXPECT_EQ(j["path"], "/files/abc");
    EXPECT_EQ(j["route"], "/files/{name}");
    EXPECT_EQ(j["status"], 200);
    EXPECT_TRUE(j["duration_ms"].is_number());
    EXPECT_EQ(j["remote"], "127.0.0.1");
  }
  EXPECT_TRUE(found) << log_.str();
}

TEST_F(ServerTest, GracefulStopFinishesInFlightRequestAndClosesIdleConnections) {
  start();
  Client idle(port());
  ASSERT_EQ(idle.request(bhttp::verb::get, "/echo").result_int(), 200);

  auto slow = std::async(std::launch::async, [this] {
    Client c(port());
    return c.request(bhttp::verb::get, "/slow");
  });
  for (int i = 0; i < 500 && !slow_entered_; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_TRUE(slow_entered_);

  auto stopped_at = std::chrono::steady_clock::now();
  server_->stop();
  // The idle keep-alive connection is closed at once, without waiting for the slow request.
  EXPECT_EQ(idle.next_read_error(), bhttp::error::end_of_stream);
  EXPECT_EQ(runner_.wait_for(0ms), std::future_status::timeout) << "run() returned before the slow response";

  auto r = slow.get();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_FALSE(r.keep_alive());  // Connection: close while stopping
  EXPECT_EQ(body_json(r)["slow"], true);
  ASSERT_EQ(runner_.wait_for(5s), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, 3s);

  Client late(port());
  EXPECT_FALSE(late.connected());
}

TEST_F(ServerTest, StopBeforeRunReturnsPromptly) {
  ServerOptions options;
  options.port = 0;
  Server server(
      options, [](Request&) { return Response::no_content(); }, metrics_, logger_);
  server.start();
  server.stop();
  auto done = std::async(std::launch::async, [&] { server.run(); });
  EXPECT_EQ(done.wait_for(5s), std::future_status::ready);
}

TEST_F(ServerTest, HeaderTimeoutClosesASilentConnection) {
  ServerOptions options;
  options.header_timeout = 1s;
  start(options);
  Client c(port());
  auto t0 = std::chrono::steady_clock::now();
  auto ec = c.next_read_error();
  EXPECT_TRUE(ec == bhttp::error::end_of_stream || ec == net::error::connection_reset) << ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(ServerTest, StartFailsClearlyWhenTheAddressIsTaken) {
  start();
  ServerOptions options;
  options.port = port();
  Server second(
      options, [](Request&) { return Response::no_content(); }, metrics_, logger_);
  try {
    second.start();
    FAIL() << "start() should throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(port())), std::string::npos)
        << e.what();
  }
}

// A handler that answers from another thread: the io thread is free meanwhile, the answer gets
// the usual headers, a second completion is ignored, and the connection stays usable.
TEST_F(ServerTest, ADeferredResponseFreesTheIoThreadAndIsAnsweredOnce) {
  std::vector<std::thread> workers;
  std::mutex workers_mutex;
  router_.add("GET", "/later", [&](Request&) {
    Response r;
    r.deferred = [&](Response::Completion complete) {
      std::lock_guard lock(workers_mutex);
      workers.emplace_back([complete] {
        std::this_thread::sleep_for(1s);
        complete(Response::json(200, {{"later", true}}));
        complete(Response::json(500, {{"twice", true}}));
      });
    };
    return r;
  });
  ServerOptions options;
  options.threads = 1;
  start(options);
  auto later = std::async(std::launch::async, [&] {
    Client c(port());
    auto first = c.request(bhttp::verb::get, "/later", {}, {{"Origin", "https://shop.example"}});
    auto again = c.request(bhttp::verb::get, "/echo");  // the same connection, kept alive
    return std::make_pair(first, again);
  });
  std::this_thread::sleep_for(100ms);
  Client other(port());
  EXPECT_EQ(other.request(bhttp::verb::get, "/echo").result_int(), 200u);
  EXPECT_EQ(later.wait_for(0ms), std::future_status::timeout);  // answered before the deferred one
  auto [first, again] = later.get();
  EXPECT_EQ(first.result_int(), 200u);
  EXPECT_EQ(body_json(first), json({{"later", true}}));
  EXPECT_FALSE(first["X-Request-Id"].empty());
  EXPECT_EQ(first[bhttp::field::access_control_allow_origin], "https://shop.example");
  EXPECT_EQ(again.result_int(), 200u);
  for (auto& t : workers) t.join();
}

// A deferred response never completed does not hold the stop beyond the grace period.
TEST_F(ServerTest, TheGracePeriodBoundsAStopThatWaitsForADeferredResponse) {
  std::mutex mutex;
  Response::Completion kept;
  router_.add("GET", "/never", [&](Request&) {
    Response r;
    r.deferred = [&](Response::Completion complete) {
      std::lock_guard lock(mutex);
      kept = std::move(complete);
    };
    return r;
  });
  ServerOptions options;
  options.shutdown_grace = 300ms;
  options.port = 0;
  Server server(
      options, [this](Request& r) { return router_.dispatch(r); }, metrics_, logger_);
  server.start();
  auto run = std::async(std::launch::async, [&] { return server.run(); });
  {
    Client c(server.port());
    ASSERT_FALSE(c.write_raw("GET /never HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto until = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < until) {
      std::lock_guard lock(mutex);
      if (kept) break;
    }
    auto t0 = std::chrono::steady_clock::now();
    server.stop();
    ASSERT_EQ(run.wait_for(3s), std::future_status::ready);
    EXPECT_FALSE(run.get());  // the grace period ran out
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  }
  std::lock_guard lock(mutex);
  kept = nullptr;  // dropped before the server goes: it refers to the server's io_context
}

}  // namespace
}  // namespace quanqu::http
