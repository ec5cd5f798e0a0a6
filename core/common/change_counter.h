// Which store views a write made stale: a generation for catalog writes, per-variant stock sequences.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace quanqu {

// Readers cache derived views and ask here whether a write has made them stale since.
//
// A catalog or channel write may change any view: bump() moves the generation, and every view
// built before is stale. A stock write changes only the views showing the variants it moved:
// bump_stock(variant) gives the variant's slot a new stock sequence number. A view records the
// stock sequence read before it was computed and the slots of the variants it shows; it stays
// fresh while none of those slots moved past that number. Variants hash onto a fixed number of
// slots, so memory is bounded; two variants sharing a slot only cost a needless recomputation.
class ChangeCounter {
 public:
  static constexpr std::size_t kStockSlots = 4096;
  using StockSlot = std::uint16_t;

  std::uint64_t current() const { return value_.load(std::memory_order_acquire); }
  void bump() { value_.fetch_add(1, std::memory_order_acq_rel); }

  // The stock sequence now: read it before computing a view.
  std::uint64_t stock_sequence() const { return stock_sequence_.load(std::memory_order_acquire); }

  // Stock of `variant_id` changed (call after the write committed).
  void bump_stock(std::string_view variant_id) {
    std::uint64_t sequence = stock_sequence_.fetch_add(1, std::memory_order_acq_rel) + 1;
    auto& slot = slots_[stock_slot(variant_id)];
    std::uint64_t seen = slot.load(std::memory_order_acquire);
    while (seen < sequence && !slot.compare_exchange_weak(seen, sequence, std::memory_order_acq_rel)) {
    }
  }

  static StockSlot stock_slot(std::string_view variant_id) {
    return static_cast<StockSlot>(std::hash<std::string_view>{}(variant_id) % kStockSlots);
  }

  // Whether no variant of `slots` had its stock changed after `sequence` was read.
  bool stock_unchanged_since(std::uint64_t sequence, const std::vector<StockSlot>& slots) const {
    for (StockSlot s : slots)
      if (slots_[s].load(std::memory_order_acquire) > sequence) return false;
    return true;
  }

 private:
  std::atomic<std::uint64_t> value_{1};
  std::atomic<std::uint64_t> stock_sequence_{0};
  std::array<std::atomic<std::uint64_t>, kStockSlots> slots_{};
};

}  // namespace quanqu
