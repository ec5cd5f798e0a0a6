// A small in-process cache of store catalog replies, invalidated by the core's change counter.
#pragma once

#include "common/change_counter.h"
#include "http/caching.h"

#include <chrono>
#include <memory>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace quanqu::api {

// An entry is served while the change counter has not moved since it was built (any local
// catalog, channel or stock write moves it) and it is younger than the TTL (which bounds how
// stale a reply can be after a write made by another node sharing the database).
class ResponseCache {
 public:
  ResponseCache(const ChangeCounter& changes, int ttl_ms) : changes_(changes), ttl_ms_(ttl_ms) {}

  bool enabled() const { return ttl_ms_ > 0; }

  // Replies are shared and immutable: a hit hands out the same representation (body, ETag and
  // gzip body, computed once when it was stored), never a copy.
  using Body = std::shared_ptr<const http::Representation>;

  Body get(const std::string& key) const {
    if (!enabled()) return nullptr;
    std::shared_lock lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.generation != changes_.current() || now_ms() >= it->second.expires_ms)
      return nullptr;
    return it->second.body;
  }

  // `generation` is the counter read before the reply was computed, so a write that raced
  // with the computation leaves the entry stale rather than wrong.
  void put(const std::string& key, std::uint64_t generation, Body body) {
    if (!enabled()) return;
    std::unique_lock lock(mutex_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_[key] = Entry{generation, now_ms() + ttl_ms_, std::move(body)};
  }

 private:
  static constexpr std::size_t kMaxEntries = 20000;
  struct Entry {
    std::uint64_t generation;
    std::int64_t expires_ms;
    Body body;
  };
  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  const ChangeCounter& changes_;
  int ttl_ms_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace quanqu::api
