// A small in-process cache of store catalog replies, made stale by the core's change counter.
#pragma once

#include "common/change_counter.h"
#include "http/caching.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <cstdint>
#include <optional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace quanqu::api {

// An entry is served while no local write has made it stale since it was built (a catalog or
// channel write stales every entry; a stock write only the entries showing the variants it
// moved) and it is younger than the TTL (which bounds how stale a reply can be after a write
// made by another node sharing the database).
class ResponseCache {
 public:
  ResponseCache(const ChangeCounter& changes, int ttl_ms) : changes_(changes), ttl_ms_(ttl_ms) {}

  bool enabled() const { return ttl_ms_ > 0; }

  // Replies are shared and immutable: a hit hands out the same representation (body, ETag and
  // gzip body, computed once when it was stored), never a copy.
  using Body = std::shared_ptr<const http::Representation>;

  Body get(const std::string& key) const {
    if (!enabled()) return nullptr;
    Body body = lookup(key);
    (body ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
    return body;
  }

  // Lookups answered from the cache and not, since start (the catalog cache metric).
  std::uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  std::uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

  // What the change counter said before a reply was computed.
  struct Seen {
    std::uint64_t generation;
    std::uint64_t stock_sequence;
  };
  Seen seen() const { return {changes_.current(), changes_.stock_sequence()}; }

  // `seen` was read before the reply was computed, so a write that raced with the computation
  // leaves the entry stale rather than wrong. `variant_ids` are the variants whose stock the
  // reply shows.
  void put(const std::string& key, Seen seen, const std::vector<std::string>& variant_ids, Body body) {
    if (!enabled()) return;
    std::vector<ChangeCounter::StockSlot> slots;
    slots.reserve(variant_ids.size());
    for (const auto& v : variant_ids) slots.push_back(ChangeCounter::stock_slot(v));
    std::sort(slots.begin(), slots.end());
    slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
    std::unique_lock lock(mutex_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_[key] = Entry{seen, std::move(slots), now_ms() + ttl_ms_, std::move(body)};
  }

 private:
  static constexpr std::size_t kMaxEntries = 20000;
  struct Entry {
    Seen seen;
    std::vector<ChangeCounter::StockSlot> stock_slots;  // sorted, unique
    std::int64_t expires_ms;
    Body body;
  };
  Body lookup(const std::string& key) const {
    std::shared_lock lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    const Entry& e = it->second;
    if (e.seen.generation != changes_.current() || now_ms() >= e.expires_ms ||
        !changes_.stock_unchanged_since(e.seen.stock_sequence, e.stock_slots))
      return nullptr;
    return e.body;
  }
  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  const ChangeCounter& changes_;
  int ttl_ms_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  mutable std::atomic<std::uint64_t> hits_{0};
  mutable std::atomic<std::uint64_t> misses_{0};
};

}  // namespace quanqu::api
