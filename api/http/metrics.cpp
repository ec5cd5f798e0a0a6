// Prometheus text rendering and the per-(method, route) series behind it.
#include "http/metrics.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace quanqu::http {
namespace {

// Captured during static initialisation, i.e. as the process starts.
const double kProcessStart =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

std::string_view method_label(std::string_view method) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
    if (method == known) return known;
  return "OTHER";
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[64];
    // Shortest round-trip text; plain notation in the usual range ("0.0005", not "5e-04").
    double mag = std::fabs(v);
    auto format = (mag == 0 || (mag >= 1e-4 && mag < 1e15)) ? std::chars_format::fixed : std::chars_format::general;
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, format);
    out.append(buf, ec == std::errc() ? end : buf);
  }
}

void append_number(std::string& out, std::uint64_t v) { out += std::to_string(v); }

// Label values escape backslash, double quote and newline; HELP text escapes backslash and newline.
void append_escaped(std::string& out, std::string_view s, bool is_label) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && is_label) out += "\\\"";
    else out += c;
  }
}

void append_header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_escaped(out, help, false);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void append_labels(std::string& out, std::string_view method, std::string_view route) {
  out += "{method=\"";
  append_escaped(out, method, true);
  out += "\",route=\"";
  append_escaped(out, route, true);
  out += '"';
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void Metrics::observe(std::string_view method, std::string_view route, unsigned status, double seconds) {
  thread_local std::string key;
  key.assign(method_label(method));
  key += '\n';
  key += route.empty() ? std::string_view("unmatched") : route;
  if (!(seconds >= 0)) seconds = 0;  // also catches NaN

  std::size_t bucket = 0;
  while (bucket < std::size(kBuckets) && seconds > kBuckets[bucket]) ++bucket;

  std::lock_guard lock(mutex_);
  auto it = series_.find(std::string_view(key));
  if (it == series_.end()) it = series_.emplace(key, Series{}).first;
  Series& s = it->second;
  ++s.buckets[bucket];
  s.sum += seconds;
  ++s.count;
  for (auto& [code, n] : s.statuses)
    if (code == status) {
      ++n;
      return;
    }
  s.statuses.emplace_back(status, 1);
}

void Metrics::add_counter(std::string name, std::string help, std::function<double()> read) {
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name \"" + name + "\"");
  if (!read) throw std::invalid_argument("metric " + name + " has no read function");
  std::lock_guard lock(extras_mutex_);
  for (const auto& e : extras_)
    if (e.name == name) throw std::logic_error("metric " + name + " registered twice");
  extras_.push_back({std::move(name), std::move(help), std::move(read), {}, {}});
}

void Metrics::add_labeled(std::string name, std::string help, std::string label,
                          std::function<LabeledSamples()> read) {
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name \"" + name + "\"");
  if (!valid_metric_name(label) || label.find(':') != std::string::npos || label.rfind("__", 0) == 0)
    throw std::invalid_argument("invalid label name \"" + label + "\"");
  if (!read) throw std::invalid_argument("metric " + name + " has no read function");
  std::lock_guard lock(extras_mutex_);
  for (const auto& e : extras_)
    if (e.name == name) throw std::logic_error("metric " + name + " registered twice");
  extras_.push_back({std::move(name), std::move(help), {}, std::move(label), std::move(read)});
}

std::string Metrics::render() const {
  std::map<std::string, Series, std::less<>> series;
  {
    std::lock_guard lock(mutex_);
    series = series_;
  }
  std::vector<Extra> extras;
  {
    std::lock_guard lock(extras_mutex_);
    extras = extras_;
  }

  std::string out;
  out.reserve(1024 + series.size() * 1600);

  append_header(out, "quanqu_http_requests_total", "HTTP requests served, by method, route pattern and status.",
                "counter");
  for (const auto& [key, s] : series) {
    auto nl = key.find('\n');
    std::string_view method(key.data(), nl), route(key.data() + nl + 1, key.size() - nl - 1);
    auto statuses = s.statuses;
    std::sort(statuses.begin(), statuses.end());
    for (const auto& [code, n] : statuses) {
      out += "quanqu_http_requests_total";
      append_labels(out, method, route);
      out += ",status=\"" + std::to_string(code) + "\"} ";
      append_number(out, n);
      out += '\n';
    }
  }

  append_header(out, "quanqu_http_request_duration_seconds",
                "Time from a request being read to its response being written, in seconds.", "histogram");
  for (const auto& [key, s] : series) {
    auto nl = key.find('\n');
    std::string_view method(key.data(), nl), route(key.data() + nl + 1, key.size() - nl - 1);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= std::size(kBuckets); ++i) {
      cumulative += s.buckets[i];
      out += "quanqu_http_request_duration_seconds_bucket";
      append_labels(out, method, route);
      out += ",le=\"";
      append_number(out, i < std::size(kBuckets) ? kBuckets[i] : INFINITY);
      out += "\"} ";
      append_number(out, cumulative);
      out += '\n';
    }
    out += "quanqu_http_request_duration_seconds_sum";
    append_labels(out, method, route);
    out += "} ";
    append_number(out, s.sum);
    out += "\nquanqu_http_request_duration_seconds_count";
    append_labels(out, method, route);
    out += "} ";
    append_number(out, s.count);
    out += '\n';
  }

  append_header(out, "quanqu_http_requests_in_flight", "HTTP requests being handled right now.", "gauge");
  out += "quanqu_http_requests_in_flight " + std::to_string(in_flight_.load(std::memory_order_relaxed)) + "\n";

  append_header(out, "process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.",
                "gauge");
  out += "process_start_time_seconds ";
  append_number(out, kProcessStart);
  out += '\n';

  for (const auto& e : extras) {
    bool counter = e.name.size() > 6 && e.name.compare(e.name.size() - 6, 6, "_total") == 0;
    if (e.read_labeled) {
      LabeledSamples samples;
      try {
        samples = e.read_labeled();
      } catch (...) {
        continue;
      }
      append_header(out, e.name, e.help, counter ? "counter" : "gauge");
      for (const auto& [value_label, value] : samples) {
        out += e.name;
        out += '{';
        out += e.label;
        out += "=\"";
        append_escaped(out, value_label, true);
        out += "\"} ";
        append_number(out, value);
        out += '\n';
      }
      continue;
    }
    double value;
    try {
      value = e.read();
    } catch (...) {
      continue;
    }
    append_header(out, e.name, e.help, counter ? "counter" : "gauge");
    out += e.name;
    out += ' ';
    append_number(out, value);
    out += '\n';
  }
  return out;
}

}  // namespace quanqu::http
