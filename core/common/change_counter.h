// A process-wide generation number bumped by every write that can change what the store API shows.
#pragma once

#include <atomic>
#include <cstdint>

namespace quanqu {

// Readers cache derived views tagged with the generation they were built at; any catalog,
// channel or stock write bumps it, so a cached view older than the current value is stale.
class ChangeCounter {
 public:
  std::uint64_t current() const { return value_.load(std::memory_order_acquire); }
  void bump() { value_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  std::atomic<std::uint64_t> value_{1};
};

}  // namespace quanqu
