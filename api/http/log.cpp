// JSON-lines logger: lines are built with nlohmann's escaping and written whole under a mutex.
#include "http/log.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <stdexcept>
#include <string>

namespace quanqu::http {
namespace {

using nlohmann::json;

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// A JSON string literal. Plain printable ASCII (paths, ids, methods) is copied as is; anything
// else goes through nlohmann, which escapes and replaces invalid UTF-8.
std::string json_string(std::string_view s) {
  bool plain = std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; });
  if (!plain) return dump(json(std::string(s)));
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

constexpr std::size_t kFlushBytes = 64 * 1024;
constexpr auto kFlushInterval = std::chrono::milliseconds(100);

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
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
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.3f", std::isfinite(seconds) ? seconds * 1000.0 : 0.0);
    std::string rest;
    rest.reserve(256);
    rest += ",\"method\":" + json_string(request.method);
    rest += ",\"path\":" + json_string(request.path);
    rest += ",\"route\":" + json_string(request.route);
    rest += ",\"status\":" + std::to_string(status);
    rest += ",\"duration_ms\":";
    rest += duration;
    rest += ",\"request_id\":" + json_string(request.request_id);
    rest += ",\"remote\":" + json_string(request.remote_address);
    std::string line = format(LogLevel::info, "request", rest);
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
  line += now_rfc3339();
  line += "\",\"level\":\"";
  line += to_string(level);
  line += "\",\"msg\":";
  line += json_string(msg);
  line += rest;
  line += "}\n";
  return line;
}

}  // namespace quanqu::http
