// The allocation rule of checkout: whole order from one location, else line by line, else split a line.
#include "inventory/allocation.h"

#include <algorithm>
#include <map>
#include <utility>

namespace quanqu::inventory {
namespace {

using Key = std::pair<std::string, std::string>;  // variant, location

}  // namespace

AllocationPlan plan_allocations(const std::vector<LineDemand>& lines, const std::vector<LocationId>& locations,
                                const std::vector<LevelStock>& levels) {
  std::map<Key, std::int64_t> left;
  for (const auto& l : levels)
    if (l.available > 0) left[{l.variant_id.value, l.location_id.value}] += l.available;
  auto at = [&](const VariantId& v, const LocationId& l) -> std::int64_t {
    auto it = left.find({v.value, l.value});
    return it == left.end() ? 0 : it->second;
  };

  AllocationPlan plan;
  // 1. One location for the whole order (lines of one variant add up).
  for (const auto& location : locations) {
    std::map<std::string, std::int64_t> needed;
    for (const auto& line : lines) needed[line.variant_id.value] += line.quantity;
    bool whole = std::all_of(needed.begin(), needed.end(), [&](const auto& n) {
      return at(VariantId(n.first), location) >= n.second;
    });
    if (!whole) continue;
    for (const auto& line : lines)
      if (line.quantity > 0) plan.allocations.push_back({line.variant_id, location, line.quantity});
    return plan;
  }

  // 2. and 3. Line by line: one location for the line if one can, else split in preference order.
  for (const auto& line : lines) {
    if (line.quantity <= 0) continue;
    auto single = std::find_if(locations.begin(), locations.end(),
                               [&](const LocationId& l) { return at(line.variant_id, l) >= line.quantity; });
    if (single != locations.end()) {
      left[{line.variant_id.value, single->value}] -= line.quantity;
      plan.allocations.push_back({line.variant_id, *single, line.quantity});
      continue;
    }
    std::int64_t total = 0;
    for (const auto& l : locations) total += at(line.variant_id, l);
    if (total < line.quantity) {
      plan.shortages.push_back({line.line_id, line.variant_id, line.quantity, total});
      continue;
    }
    std::int64_t wanted = line.quantity;
    for (const auto& l : locations) {
      std::int64_t take = std::min(wanted, at(line.variant_id, l));
      if (take <= 0) continue;
      left[{line.variant_id.value, l.value}] -= take;
      plan.allocations.push_back({line.variant_id, l, take});
      wanted -= take;
      if (wanted == 0) break;
    }
  }
  if (!plan.shortages.empty()) plan.allocations.clear();
  return plan;
}

}  // namespace quanqu::inventory
