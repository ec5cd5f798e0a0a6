// An injectable clock, so tests control time.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace quanqu {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual std::int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
  }
};

// RFC 3339 UTC text for a Unix time in ms, e.g. "2026-11-23T20:39:43.123Z".
std::string format_rfc3339(std::int64_t ms);

}  // namespace quanqu
