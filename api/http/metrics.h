// Prometheus metrics of the HTTP server (requests, latency, in-flight) plus registered extras.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu::http {

// Thread-safe. observe() takes one mutex for a map lookup and a few additions, so it is cheap
// on the request path; render() copies the series under that mutex and formats outside it.
class Metrics {
 public:
  // Upper bounds (seconds) of the latency histogram buckets; +Inf is implied.
  static constexpr double kBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Counts one finished request. `route` is the router pattern ("unmatched" is used when it is
  // empty). Methods other than GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS are counted as
  // "OTHER", so clients cannot grow the label set; routes are bounded by the route table.
  void observe(std::string_view method, std::string_view route, unsigned status, double seconds);

  // The quanqu_http_requests_in_flight gauge: the server calls started() when it begins to
  // handle a request and finished() once its response is written (or the connection is lost).
  void started() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void finished() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  // Registers an extra metric read at every render() (e.g. the database pool size). A name
  // ending in "_total" is rendered as a counter, anything else as a gauge. `read` is called
  // without any Metrics lock held, from the thread calling render(); if it throws, that sample
  // is left out. Throws std::invalid_argument for a name that is not a valid Prometheus metric
  // name and std::logic_error for a name registered twice (both are start-up bugs).
  void add_counter(std::string name, std::string help, std::function<double()> read);

  // Registers an extra metric family with one label (e.g. errors per plugin): `read` returns
  // (label value, sample) pairs, rendered as name{label="value"} in the order given. Same rules
  // as add_counter; `label` must be a valid Prometheus label name (std::invalid_argument).
  using LabeledSamples = std::vector<std::pair<std::string, double>>;
  void add_labeled(std::string name, std::string help, std::string label, std::function<LabeledSamples()> read);

  // Prometheus text exposition format 0.0.4 (Content-Type "text/plain; version=0.0.4"):
  // quanqu_http_requests_total{method,route,status}, quanqu_http_request_duration_seconds
  // histogram {method,route}, quanqu_http_requests_in_flight, process_start_time_seconds,
  // then the extras in registration order. Series are sorted by their labels.
  std::string render() const;

 private:
  struct Series {
    std::uint64_t buckets[std::size(kBuckets) + 1] = {};  // per bucket, not cumulative; last is +Inf
    double sum = 0;
    std::uint64_t count = 0;
    std::vector<std::pair<unsigned, std::uint64_t>> statuses;  // few per route: a vector is enough
  };
  struct Extra {
    std::string name;
    std::string help;
    std::function<double()> read;
    std::string label;                             // add_labeled only
    std::function<LabeledSamples()> read_labeled;  // add_labeled only
  };

  mutable std::mutex mutex_;
  std::map<std::string, Series, std::less<>> series_;  // key: method + '\n' + route
  std::atomic<std::int64_t> in_flight_{0};

  mutable std::mutex extras_mutex_;
  std::vector<Extra> extras_;
};

}  // namespace quanqu::http
