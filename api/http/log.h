// Structured logging: one JSON object per line (ts, level, msg, fields), and the access log.
#pragma once

#include "http/message.h"

#include <nlohmann/json.hpp>

#include <iosfwd>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <string_view>

namespace quanqu::http {

enum class LogLevel { debug, info, warn, error };

// "debug", "info", "warn" (or "warning"), "error", case-insensitive.
// Throws std::invalid_argument naming the bad value otherwise (a start-up configuration error).
LogLevel parse_log_level(std::string_view name);
// The lower-case name written in the "level" field.
std::string_view to_string(LogLevel level);

// Writes JSON lines to a stream. Thread-safe: each line is formatted outside the lock and
// written whole under a mutex, so lines never interleave. log() lines are written and flushed
// at once. Access lines, one per request, are appended to a buffer that a background thread
// writes every 100 ms (or sooner when it grows past 64 KiB), so a request never waits for the
// stream; any log() line first writes what is buffered, so the order of lines is kept, and the
// destructor writes the rest.
// Never throws from log()/access(): strings that are not valid UTF-8 are written with U+FFFD
// replacements, and a failing stream is ignored. The stream must outlive the Logger.
class Logger {
 public:
  // Lines below `min_level` are dropped.
  explicit Logger(LogLevel min_level, std::ostream& out);
  explicit Logger(LogLevel min_level);  // writes to std::cout
  ~Logger();

  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool enabled(LogLevel level) const { return level >= min_level_; }

  // {"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":msg, ...fields}. `fields` should be
  // an object (its members follow "msg"; members named ts, level or msg are dropped); any other
  // non-null value is written under "fields".
  void log(LogLevel level, std::string_view msg, const nlohmann::json& fields = {});

  // The access line, at info level: msg "request", method, path, route, status, duration_ms
  // (3 decimals), request_id, remote.
  void access(const Request& request, unsigned status, double seconds);

  // Writes buffered access lines now (tests, and shutdown paths that exit without the destructor).
  void flush();

 private:
  std::string format(LogLevel level, std::string_view msg, std::string_view rest) const;
  void write_locked(std::string_view text);  // mutex_ held
  void flush_loop();

  LogLevel min_level_;
  std::ostream& out_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string pending_;  // access lines not yet written
  bool stopping_ = false;
  std::thread flusher_;
};

}  // namespace quanqu::http
