// Tests of the observability pieces of the HTTP layer: Prometheus rendering and JSON-lines logging.
#include "http/log.h"
#include "http/metrics.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace quanqu::http {
namespace {

using nlohmann::json;

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

TEST(Metrics, RendersCountersAndHistogramWithHelpAndType) {
  Metrics m;
  m.observe("GET", "/v1/store/products", 200, 0.003);
  m.observe("GET", "/v1/store/products", 200, 0.2);
  m.observe("GET", "/v1/store/products", 404, 3.0);
  auto text = m.render();

  EXPECT_TRUE(has_line(text, "# TYPE quanqu_http_requests_total counter")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE quanqu_http_request_duration_seconds histogram"));
  EXPECT_TRUE(has_line(text, "# TYPE quanqu_http_requests_in_flight gauge"));
  EXPECT_TRUE(has_line(text, "# TYPE process_start_time_seconds gauge"));
  EXPECT_NE(text.find("# HELP quanqu_http_requests_total "), std::string::npos);

  EXPECT_TRUE(has_line(text, R"(quanqu_http_requests_total{method="GET",route="/v1/store/products",status="200"} 2)"));
  EXPECT_TRUE(has_line(text, R"(quanqu_http_requests_total{method="GET",route="/v1/store/products",status="404"} 1)"));

  const std::string b = R"(quanqu_http_request_duration_seconds_bucket{method="GET",route="/v1/store/products",le=)";
  EXPECT_TRUE(has_line(text, b + R"("0.0005"} 0)"));
  EXPECT_TRUE(has_line(text, b + R"("0.0025"} 0)"));
  EXPECT_TRUE(has_line(text, b + R"("0.005"} 1)"));  // cumulative from here on
  EXPECT_TRUE(has_line(text, b + R"("0.1"} 1)"));
  EXPECT_TRUE(has_line(text, b + R"("0.25"} 2)"));
  EXPECT_TRUE(has_line(text, b + R"("1"} 2)"));
  EXPECT_TRUE(has_line(text, b + R"("2.5"} 2)"));
  EXPECT_TRUE(has_line(text, b + R"("+Inf"} 3)"));
  EXPECT_TRUE(has_line(text, R"(quanqu_http_request_duration_seconds_count{method="GET",route="/v1/store/products"} 3)"));
  EXPECT_TRUE(has_line(text, R"(quanqu_http_request_duration_seconds_sum{method="GET",route="/v1/store/products"} 3.203)"));
}

TEST(Metrics, EveryBucketIsRenderedOncePerSeries) {
  Metrics m;
  m.observe("POST", "/a", 201, 0.01);
  auto text = m.render();
  std::size_t buckets = 0;
  for (auto pos = text.find("_bucket{"); pos != std::string::npos; pos = text.find("_bucket{", pos + 1)) ++buckets;
  EXPECT_EQ(buckets, std::size(Metrics::kBuckets) + 1);
  EXPECT_TRUE(has_line(text, R"(quanqu_http_request_duration_seconds_bucket{method="POST",route="/a",le="0.01"} 1)"));
}

TEST(Metrics, EmptyRouteIsUnmatchedAndOddMethodsAreOther) {
  Metrics m;
  m.observe("GET", "", 404, 0.001);
  m.observe("BREW", "", 405, 0.001);
  auto text = m.render();
  EXPECT_TRUE(has_line(text, R"(quanqu_http_requests_total{method="GET",route="unmatched",status="404"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(quanqu_http_requests_total{method="OTHER",route="unmatched",status="405"} 1)"));
}

TEST(Metrics, LabelValuesAreEscaped) {
  Metrics m;
  m.observe("GET", "/a\"b\\c\nd", 200, 0.001);
  auto text = m.render();
  EXPECT_TRUE(has_line(text, R"(quanqu_http_requests_total{method="GET",route="/a\"b\\c\nd",status="200"} 1)")) << text;
}

TEST(Metrics, InFlightGauge) {
  Metrics m;
  m.started();
  m.started();
  m.finished();
  EXPECT_TRUE(has_line(m.render(), "quanqu_http_requests_in_flight 1"));
}

TEST(Metrics, ProcessStartTimeIsAPlausibleEpoch) {
  Metrics m;
  std::smatch match;
  auto text = m.render();
  ASSERT_TRUE(std::regex_search(text, match, std::regex("\nprocess_start_time_seconds ([0-9.e+]+)\n")));
  double start = std::stod(match[1]);
  EXPECT_GT(start, 1.6e9);
  EXPECT_LE(start, static_cast<double>(std::time(nullptr)) + 1);
}

TEST(Metrics, ExtrasAreRenderedAsGaugeOrCounterByName) {
  Metrics m;
  double pool = 3;
  m.add_counter("quanqu_db_pool_size", "Open database connections.", [&] { return pool; });
  m.add_counter("quanqu_orders_placed_total", "Orders placed.\nSince start.", [] { return 42.0; });
  m.add_counter("quanqu_broken", "Throws.", []() -> double { throw std::runtime_error("down"); });
  pool = 4;
  auto text = m.render();
  EXPECT_TRUE(has_line(text, "# HELP quanqu_db_pool_size Open database connections."));
  EXPECT_TRUE(has_line(text, "# TYPE quanqu_db_pool_size gauge"));
  EXPECT_TRUE(has_line(text, "quanqu_db_pool_size 4"));
  EXPECT_TRUE(has_line(text, R"(# HELP quanqu_orders_placed_total Orders placed.\nSince start.)")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE quanqu_orders_placed_total counter"));
  EXPECT_TRUE(has_line(text, "quanqu_orders_placed_total 42"));
  EXPECT_EQ(text.find("quanqu_broken"), std::string::npos);
}

TEST(Metrics, BadOrDuplicateExtraNamesAreStartupErrors) {
  Metrics m;
  EXPECT_THROW(m.add_counter("1abc", "", [] { return 0.0; }), std::invalid_argument);
  EXPECT_THROW(m.add_counter("has-dash", "", [] { return 0.0; }), std::invalid_argument);
  EXPECT_THROW(m.add_counter("no_reader", "", {}), std::invalid_argument);
  m.add_counter("quanqu_x", "", [] { return 0.0; });
  EXPECT_THROW(m.add_counter("quanqu_x", "", [] { return 1.0; }), std::logic_error);
}

TEST(Metrics, ConcurrentObservationsAreAllCounted) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 5000; ++i) m.observe("GET", t % 2 ? "/a" : "/b", 200, 0.001);
    });
  for (auto& t : threads) t.join();
  auto text = m.render();
  EXPECT_TRUE(has_line(text, R"(quanqu_http_requests_total{method="GET",route="/a",status="200"} 10000)"));
  EXPECT_TRUE(has_line(text, R"(quanqu_http_request_duration_seconds_count{method="GET",route="/b"} 10000)"));
}

TEST(Metrics, EveryNonCommentLineIsASample) {
  Metrics m;
  m.observe("GET", "/x", 200, 0.5);
  m.add_counter("quanqu_g", "G.", [] { return 1.5; });
  std::istringstream in(m.render());
  std::regex sample(R"re([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? [-+0-9.eE]+|[^ ]+ \+Inf|[^ ]+ NaN)re");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
  }
}

TEST(LogLevel, Parses) {
  EXPECT_EQ(parse_log_level("debug"), LogLevel::debug);
  EXPECT_EQ(parse_log_level("INFO"), LogLevel::info);
  EXPECT_EQ(parse_log_level("warn"), LogLevel::warn);
  EXPECT_EQ(parse_log_level("warning"), LogLevel::warn);
  EXPECT_EQ(parse_log_level("error"), LogLevel::error);
  EXPECT_THROW(parse_log_level("verbose"), std::invalid_argument);
  EXPECT_THROW(parse_log_level(""), std::invalid_argument);
}

TEST(Logger, WritesOneJsonObjectPerLineWithTimestampLevelAndFields) {
  std::ostringstream out;
  Logger log(LogLevel::info, out);
  log.log(LogLevel::info, "listening", {{"host", "127.0.0.1"}, {"port", 8080}, {"msg", "ignored"}});
  log.log(LogLevel::debug, "dropped");
  log.log(LogLevel::error, "plain");
  log.log(LogLevel::warn, "odd fields", json::array({1, 2}));

  std::istringstream in(out.str());
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 3u) << out.str();
  EXPECT_EQ(lines[0]["msg"], "listening");
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["port"], 8080);
  EXPECT_EQ(lines[0]["host"], "127.0.0.1");
  EXPECT_TRUE(std::regex_match(lines[0]["ts"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << lines[0]["ts"];
  EXPECT_EQ(lines[1]["level"], "error");
  EXPECT_EQ(lines[2]["fields"], json::array({1, 2}));
  EXPECT_TRUE(out.str().starts_with("{\"ts\":"));  // ts, level, msg lead every line
}

TEST(Logger, AccessLineHasTheRequestFields) {
  std::ostringstream out;
  Logger log(LogLevel::info, out);
  Request r;
  r.method = "POST";
  r.path = "/v1/store/carts/c_1/lines";
  r.route = "/v1/store/carts/{id}/lines";
  r.request_id = "rid-1";
  r.remote_address = "127.0.0.1";
  log.access(r, 201, 0.0123456);
  EXPECT_EQ(out.str(), "");  // access lines are batched ...
  log.flush();               // ... until the flusher (or flush()) writes them
  auto j = json::parse(out.str());
  EXPECT_EQ(j["msg"], "request");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/v1/store/carts/c_1/lines");
  EXPECT_EQ(j["route"], "/v1/store/carts/{id}/lines");
  EXPECT_EQ(j["status"], 201);
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 12.346);
  EXPECT_EQ(j["request_id"], "rid-1");
  EXPECT_EQ(j["remote"], "127.0.0.1");
}

TEST(Logger, TimestampAndDurationFormats) {
  std::ostringstream out;
  Logger log(LogLevel::info, out);
  Request r;
  r.method = "GET";
  for (double seconds : {0.0, 0.0000004, 0.0000006, 1.5, 12.3456789}) log.access(r, 200, seconds);
  log.flush();
  std::istringstream lines(out.str());
  std::vector<std::string> durations;
  for (std::string line; std::getline(lines, line);) {
    auto j = json::parse(line);
    std::string ts = j["ts"];
    ASSERT_EQ(ts.size(), 24u) << ts;  // 2024-05-01T12:00:00.123Z
    EXPECT_EQ(ts[4], '-');
    EXPECT_EQ(ts[10], 'T');
    EXPECT_EQ(ts[19], '.');
    EXPECT_EQ(ts.back(), 'Z');
    auto at = line.find("\"duration_ms\":") + 14;
    durations.push_back(line.substr(at, line.find(',', at) - at));
  }
  EXPECT_EQ(durations, (std::vector<std::string>{"0.000", "0.000", "0.001", "1500.000", "12345.679"}));
}

TEST(Logger, InvalidUtf8IsReplacedNotThrown) {
  std::ostringstream out;
  Logger log(LogLevel::debug, out);
  Request r;
  r.path = "/bad\xff";
  EXPECT_NO_THROW(log.access(r, 404, 0));
  EXPECT_NO_THROW(log.log(LogLevel::info, "bad \xc3", {{"v", "\xfe"}}));
  log.flush();
  std::istringstream in(out.str());
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) EXPECT_TRUE(json::accept(line)) << line;
  EXPECT_EQ(n, 2);
}

TEST(Logger, AccessLinesKeepTheirOrderAroundOtherLinesAndAreWrittenByTheFlusher) {
  std::ostringstream out;
  {
    Logger log(LogLevel::info, out);
    Request r;
    r.method = "GET";
    r.path = "/first";
    log.access(r, 200, 0);
    log.log(LogLevel::info, "between");  // writes the buffered access line first
    r.path = "/second";
    log.access(r, 200, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the flusher's interval is 100 ms
    std::istringstream in(out.str());
    std::vector<std::string> seen;
    for (std::string line; std::getline(in, line);) {
      auto j = json::parse(line);
      seen.push_back(j.value("path", j.value("msg", "")));
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"/first", "between", "/second"}));
  }
}

TEST(Logger, ConcurrentLinesDoNotInterleave) {
  std::ostringstream out;
  Logger log(LogLevel::info, out);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 500; ++i) log.log(LogLevel::info, "tick", {{"thread", t}, {"i", i}, {"pad", std::string(200, 'x')}});
    });
  for (auto& t : threads) t.join();
  std::istringstream in(out.str());
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) ASSERT_TRUE(json::accept(line)) << line;
  EXPECT_EQ(n, 2000);
}

}  // namespace
}  // namespace quanqu::http
