// The sales report: orders, units, revenue, refunds and pickup share per channel, location or day, aggregated in SQL.
#pragma once

#include "common/result.h"
#include "storage/database.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu::reports {

enum class SalesGrouping { channel, location, day };

std::optional<SalesGrouping> parse_grouping(std::string_view text);
std::string_view to_string(SalesGrouping grouping);

// Orders placed in [from_ms, to_ms), grouped.
struct SalesQuery {
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  SalesGrouping by = SalesGrouping::channel;
};

// The longest period one report covers (a day-by-day report then has at most this many rows per currency).
constexpr std::int64_t kMaxReportDays = 366;

// One group in one currency (channels may sell in different currencies; amounts never mix).
// Cancelled orders count only in `cancelled_orders`. By location, an order counts at each
// location that supplies some of it, and its revenue is shared among them in proportion to the
// units each supplies (rounded down per order and location, so the parts may sum a few minor
// units short of the order total); refunds are shared the same way.
struct SalesRow {
  std::string key;    // the channel id, the location id, or the day (YYYY-MM-DD, UTC)
  std::string label;  // the channel's or location's code, or the day
  std::string currency;
  std::int64_t orders = 0;
  std::int64_t cancelled_orders = 0;
  std::int64_t units = 0;
  std::int64_t revenue = 0;              // minor units: the orders' totals
  std::int64_t average_order_value = 0;  // revenue / orders, rounded down; 0 without orders
  std::int64_t refunds = 0;              // minor units refunded (succeeded refunds) on these orders, whenever made
  std::int64_t net_revenue = 0;          // revenue - refunds
  std::int64_t pickup_orders = 0;        // of `orders`, those picked up in store
  // pickup_orders / orders (0 without orders).
  double pickup_share() const { return orders > 0 ? static_cast<double>(pickup_orders) / static_cast<double>(orders) : 0; }
};

class SalesReport {
 public:
  explicit SalesReport(storage::Database& db) : db_(db) {}

  // Rows sorted by label, key and currency; a period longer than kMaxReportDays or empty is a 400.
  Result<std::vector<SalesRow>> run(const SalesQuery& query);

 private:
  storage::Database& db_;
};

// Parses "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM:SSZ" into Unix ms; nullopt when invalid.
std::optional<std::int64_t> parse_utc_time(std::string_view text);

}  // namespace quanqu::reports
