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

std::string json_string(std::string_view s) { return dump(json(std::string(s))); }

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

Logger::Logger(LogLevel min_level, std::ostream& out) : min_level_(min_level), out_(out) {}
Logger::Logger(LogLevel min_level) : Logger(min_level, std::cout) {}

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
    write(level, msg, rest);
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
    write(LogLevel::info, "request", rest);
  } catch (...) {
  }
}

void Logger::write(LogLevel level, std::string_view msg, std::string_view rest) {
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
  std::lock_guard lock(mutex_);
  out_.write(line.data(), static_cast<std::streamsize>(line.size()));
  out_.flush();
  out_.clear();  // a failed write (closed pipe) must not poison later ones
}

}  // namespace quanqu::http
