// JSON-lines logger: lines are built with nlohmann's escaping and written whole under a mutex.
#include "http/log.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <stdexcept>
#include <string>

namespace quanqu::http {
namespace {

using nlohmann::json;

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// Appends a JSON string literal. Plain printable ASCII (paths, ids, methods) is copied as is;
// anything else goes through nlohmann, which escapes and replaces invalid UTF-8.
void append_json_string(std::string& out, std::string_view s) {
  bool plain = std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; });
  if (!plain) {
    out += dump(json(std::string(s)));
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// Appends a non-negative integer in decimal, at least `width` digits.
void append_uint(std::string& out, std::uint64_t v, int width = 1) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 || n < width);
  while (n > 0) out += buf[--n];
}

constexpr std::size_t kFlushBytes = 64 * 1024;
constexpr auto kFlushInterval = std::chrono::milliseconds(100);

// Appends "2024-05-01T12:00:00.123Z". The part up to the seconds is formatted once per second
// per thread.
void append_rfc3339_now(std::string& out) {
  thread_local std::int64_t cached_second = INT64_MIN;
  thread_local char prefix[64];
  thread_local int prefix_len = 0;
  auto now = std::chrono::system_clock::now();
  std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::int64_t second = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  if (second != cached_second) {
    std::time_t secs = static_cast<std::time_t>(second);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    prefix_len = std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = second;
  }
  out.append(prefix, static_cast<std::size_t>(prefix_len));
  append_uint(out, static_cast<std::uint64_t>(ms - second * 1000), 3);
  out += 'Z';
}

// Appends the duration in milliseconds with 3 decimals ("12.345"), as "%.3f" would.
void append_duration_ms(std::string& out, double seconds) {
  double us = std::isfinite(seconds) ? std::round(seconds * 1e6) : 0.0;
  if (us < 0) {
    out += '-';
    us = -us;
  }
  if (us >= 1e18) {  // beyond integers; never a real request
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", us / 1000.0);
    out += buf;
    return;
  }
  auto v = static_cast<std::uint64_t>(us);
  append_uint(out, v / 1000);
  out += '.';
  append_uint(out, v % 1000, 3);
}

}  // namespace

LogLevel parse_log_level(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "debug") return LogLevel::debug;
  if (lower == "info") return LogLevel::info;
  if (lower == "warn" || lower == "warning") return LogLevel::warn;
  if (lower == "error") return LogLevel::error;
  throw std::invalid_argument("unknown log level \"" + std::string(name) + "\" (expected debug, info, warn or error)");
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

Logger::Logger(LogLevel min_level, std::ostream& out)
    : min_level_(min_level), out_(out), flusher_([this] { flush_loop(); }) {}
Logger::Logger(LogLevel min_level) : Logger(min_level, std::cout) {}

Logger::~Logger() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  flusher_.join();
}

void Logger::flush_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, kFlushInterval, [this] { return stopping_ || pending_.size() >= kFlushBytes; });
    write_locked("");
  }
  write_locked("");
}

void Logger::flush() {
  std::lock_guard lock(mutex_);
  write_locked("");
}

void Logger::write_locked(std::string_view text) {
  // An idle flusher leaves the stream alone, so that a reader of a string stream never races it.
  if (pending_.empty() && text.empty()) return;
  if (!pending_.empty()) {
    out_.write(pending_.data(), static_cast<std::streamsize>(pending_.size()));
    pending_.clear();
  }
  if (!text.empty()) out_.write(text.data(), static_cast<std::streamsize>(text.size()));
  out_.flush();
  out_.clear();  // a failed write (closed pipe) must not poison later ones
}

void Logger::log(LogLevel level, std::string_view msg, const json& fields) {
  if (!enabled(level)) return;
  try {
    std::string rest;
    if (fields.is_object()) {
      for (const auto& [key, value] : fields.items()) {
        if (key == "ts" || key == "level" || key == "msg") continue;
        rest += ',';
        rest += json_string(key);
        rest += ':';
        rest += dump(value);
      }
    } else if (!fields.is_null()) {
      rest = ",\"fields\":" + dump(fields);
    }
    std::string line = format(level, msg, rest);
    std::lock_guard lock(mutex_);
    write_locked(line);
  } catch (...) {
    // Logging must never take a request down (e.g. bad_alloc while formatting).
  }
}

void Logger::access(const Request& request, unsigned status, double seconds) {
  if (!enabled(LogLevel::info)) return;
  try {
    // Built in a per-thread buffer that keeps its capacity, then copied into pending_.
    thread_local std::string line;
    line.clear();
    line += "{\"ts\":\"";
    append_rfc3339_now(line);
    line += "\",\"level\":\"info\",\"msg\":\"request\",\"method\":";
    append_json_string(line, request.method);
    line += ",\"path\":";
    append_json_string(line, request.path);
    line += ",\"route\":";
    append_json_string(line, request.route);
    line += ",\"status\":";
    append_uint(line, status);
    line += ",\"duration_ms\":";
    append_duration_ms(line, seconds);
    line += ",\"request_id\":";
    append_json_string(line, request.request_id);
    line += ",\"remote\":";
    append_json_string(line, request.remote_address);
    line += "}\n";
    bool full;
    {
      std::lock_guard lock(mutex_);
      pending_ += line;
      full = pending_.size() >= kFlushBytes;
    }
    if (full) wake_.notify_one();
  } catch (...) {
  }
}

std::string Logger::format(LogLevel level, std::string_view msg, std::string_view rest) const {
  std::string line;
  line.reserve(64 + msg.size() + rest.size());
  line += "{\"ts\":\"";
  append_rfc3339_now(line);
  line += "\",\"level\":\"";
  line += to_string(level);
  line += "\",\"msg\":";
  line += json_string(msg);
  line += rest;
  line += "}\n";
  return line;
}

}  // namespace quanqu::http
