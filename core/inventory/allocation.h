// Allocation planning: which locations supply an order's lines, as a pure function over stock levels.
#pragma once

#include "common/ids.h"
#include "inventory/inventory.h"

#include <cstdint>
#include <string>
#include <vector>

namespace quanqu::inventory {

// One line of an order to supply: `quantity` units of a variant. `line_id` names it in shortages.
struct LineDemand {
  std::string line_id;
  VariantId variant_id;
  std::int64_t quantity = 0;
};

// Units of a variant available (on hand less reserved) at a location. A level not listed has none.
struct LevelStock {
  VariantId variant_id;
  LocationId location_id;
  std::int64_t available = 0;
};

// A line the locations together cannot supply: what was asked and what they have in all.
struct Shortage {
  std::string line_id;
  VariantId variant_id;
  std::int64_t requested = 0;
  std::int64_t available = 0;
};

struct AllocationPlan {
  std::vector<Allocation> allocations;  // empty when there are shortages
  std::vector<Shortage> shortages;      // in the order of the lines
  bool ok() const { return shortages.empty(); }
};

// Plans where each line comes from, over `locations` in order of preference:
//   1. the first location that can supply the whole order (every line) alone;
//   2. otherwise line by line: each line from the first location that can supply all of it;
//   3. a line no single location can supply is split over the locations in order, each giving
//      what it has, until the line is whole.
// Units planned for one line are not offered to a later one. When any line cannot be supplied,
// the plan lists every such line (with what all locations hold of it) and allocates nothing.
// Allocations come out in the order of the lines, then of the locations; zero quantities never.
AllocationPlan plan_allocations(const std::vector<LineDemand>& lines, const std::vector<LocationId>& locations,
                                const std::vector<LevelStock>& levels);

}  // namespace quanqu::inventory
