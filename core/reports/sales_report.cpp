// Sales report queries: one GROUP BY per grouping over the orders of the period and their allocations.
#include "reports/sales_report.h"

#include "storage/dynamic_query.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <tuple>

namespace quanqu::reports {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

// The orders of the period, the units of each (the sum of its allocations) and what has been
// refunded of each (succeeded refunds only): the base of every grouping. Sums are cast back to
// BIGINT so that PostgreSQL divides them as integers, like SQLite.
constexpr std::string_view kPeriodOrders =
    "WITH o AS (SELECT id, channel_id, currency, status, fulfilment_type, total, created_at FROM orders "
    "WHERE created_at >= :from_ms AND created_at < :to_ms), "
    "u AS (SELECT a.order_id, CAST(SUM(a.quantity) AS BIGINT) AS units "
    "FROM order_allocations a JOIN o ON o.id = a.order_id GROUP BY a.order_id), "
    "r AS (SELECT f.order_id, CAST(SUM(f.amount) AS BIGINT) AS refunded "
    "FROM order_refunds f JOIN o ON o.id = f.order_id WHERE f.status = 'succeeded' GROUP BY f.order_id) ";

// The measures of a group of `o` joined with `u` and `r` (cancelled orders only counted as such:
// neither their total nor the refund that cancelling a paid order makes is revenue or a refund).
constexpr std::string_view kMeasures =
    "SUM(CASE WHEN o.status <> 'cancelled' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN o.status = 'cancelled' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN o.status <> 'cancelled' THEN COALESCE(u.units, 0) ELSE 0 END), "
    "SUM(CASE WHEN o.status <> 'cancelled' THEN o.total ELSE 0 END), "
    "SUM(CASE WHEN o.status <> 'cancelled' THEN COALESCE(r.refunded, 0) ELSE 0 END), "
    "SUM(CASE WHEN o.status <> 'cancelled' AND o.fulfilment_type = 'pickup' THEN 1 ELSE 0 END) ";

std::string day_text(std::int64_t day) {
  std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return out;
}

std::string sql_for(SalesGrouping by) {
  std::string sql(kPeriodOrders);
  switch (by) {
    case SalesGrouping::channel:
      sql += "SELECT o.channel_id, c.code, o.currency, ";
      sql += kMeasures;
      sql +=
          "FROM o LEFT JOIN u ON u.order_id = o.id LEFT JOIN r ON r.order_id = o.id "
          "JOIN channels c ON c.id = o.channel_id GROUP BY o.channel_id, c.code, o.currency";
      break;
    case SalesGrouping::day:
      // Integer division: the UTC day number of the order.
      sql += "SELECT CAST(o.created_at / 86400000 AS TEXT), '', o.currency, ";
      sql += kMeasures;
      sql +=
          "FROM o LEFT JOIN u ON u.order_id = o.id LEFT JOIN r ON r.order_id = o.id "
          "GROUP BY o.created_at / 86400000, o.currency";
      break;
    case SalesGrouping::location:
      // Each order at each location supplying it; its revenue and refunds shared by the units
      // supplied there.
      sql +=
          ", la AS (SELECT a.order_id, a.location_id, CAST(SUM(a.quantity) AS BIGINT) AS units "
          "FROM order_allocations a JOIN o ON o.id = a.order_id GROUP BY a.order_id, a.location_id) "
          "SELECT la.location_id, l.code, o.currency, "
          "SUM(CASE WHEN o.status <> 'cancelled' THEN 1 ELSE 0 END), "
          "SUM(CASE WHEN o.status = 'cancelled' THEN 1 ELSE 0 END), "
          "SUM(CASE WHEN o.status <> 'cancelled' THEN la.units ELSE 0 END), "
          "SUM(CASE WHEN o.status <> 'cancelled' THEN o.total * la.units / u.units ELSE 0 END), "
          "SUM(CASE WHEN o.status <> 'cancelled' THEN COALESCE(r.refunded, 0) * la.units / u.units ELSE 0 END), "
          "SUM(CASE WHEN o.status <> 'cancelled' AND o.fulfilment_type = 'pickup' THEN 1 ELSE 0 END) "
          "FROM la JOIN o ON o.id = la.order_id JOIN u ON u.order_id = la.order_id "
          "LEFT JOIN r ON r.order_id = la.order_id JOIN stock_locations l ON l.id = la.location_id "
          "GROUP BY la.location_id, l.code, o.currency";
      break;
  }
  return sql;
}

}  // namespace

std::optional<SalesGrouping> parse_grouping(std::string_view text) {
  if (text == "channel") return SalesGrouping::channel;
  if (text == "location") return SalesGrouping::location;
  if (text == "day") return SalesGrouping::day;
  return std::nullopt;
}

std::string_view to_string(SalesGrouping grouping) {
  switch (grouping) {
    case SalesGrouping::channel:
      return "channel";
    case SalesGrouping::location:
      return "location";
    case SalesGrouping::day:
      return "day";
  }
  return "channel";
}

std::optional<std::int64_t> parse_utc_time(std::string_view text) {
  auto number = [&](std::size_t at, std::size_t len, int& out) {
    if (at + len > text.size()) return false;
    auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + len, out);
    return ec == std::errc() && end == text.data() + at + len && std::isdigit(static_cast<unsigned char>(text[at]));
  };
  int y = 0, m = 0, d = 0, hh = 0, mm = 0, ss = 0;
  if (!(text.size() == 10 || text.size() == 20)) return std::nullopt;
  if (!number(0, 4, y) || text[4] != '-' || !number(5, 2, m) || text[7] != '-' || !number(8, 2, d)) return std::nullopt;
  if (text.size() == 20) {
    if (text[10] != 'T' || !number(11, 2, hh) || text[13] != ':' || !number(14, 2, mm) || text[16] != ':' ||
        !number(17, 2, ss) || text[19] != 'Z' || hh > 23 || mm > 59 || ss > 59)
      return std::nullopt;
  }
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(m)},
                                  std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || y < 1970 || y > 9999) return std::nullopt;
  std::int64_t days = std::chrono::sys_days{ymd}.time_since_epoch().count();
  return days * kDayMs + (hh * 3600LL + mm * 60LL + ss) * 1000LL;
}

Result<std::vector<SalesRow>> SalesReport::run(const SalesQuery& query) {
  if (query.to_ms <= query.from_ms)
    return Error::invalid("validation_failed", "the request has invalid fields", {{"to", "must be after from"}});
  if (query.to_ms - query.from_ms > kMaxReportDays * kDayMs)
    return Error::invalid("validation_failed", "the request has invalid fields",
                          {{"to", "the period must be at most " + std::to_string(kMaxReportDays) + " days"}});
  return db_.read<std::vector<SalesRow>>([&](soci::session& sql) -> Result<std::vector<SalesRow>> {
    std::vector<SalesRow> rows;
    SalesRow r;
    long long from_ms = query.from_ms, to_ms = query.to_ms;
    long long orders = 0, cancelled = 0, units = 0, revenue = 0, refunds = 0, pickup = 0;
    soci::statement st =
        (sql.prepare << sql_for(query.by), soci::use(from_ms, "from_ms"), soci::use(to_ms, "to_ms"), soci::into(r.key),
         soci::into(r.label), soci::into(r.currency), soci::into(orders), soci::into(cancelled), soci::into(units),
         soci::into(revenue), soci::into(refunds), soci::into(pickup));
    st.execute();
    while (st.fetch()) {
      r.orders = orders;
      r.cancelled_orders = cancelled;
      r.units = units;
      r.revenue = revenue;
      r.average_order_value = orders > 0 ? revenue / orders : 0;
      r.refunds = refunds;
      r.net_revenue = revenue - refunds;
      r.pickup_orders = pickup;
      SalesRow out = r;
      if (query.by == SalesGrouping::day) out.key = out.label = day_text(std::stoll(r.key));
      rows.push_back(std::move(out));
    }
    std::sort(rows.begin(), rows.end(),
              [](const SalesRow& a, const SalesRow& b) { return std::tie(a.label, a.key, a.currency) < std::tie(b.label, b.key, b.currency); });
    return rows;
  });
}

}  // namespace quanqu::reports
