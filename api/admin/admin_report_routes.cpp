// Admin report handlers: the sales report per channel, location or day, as JSON or CSV.
#include "admin/admin_routes.h"
#include "reports/sales_report.h"
#include "routes/codec.h"
#include "routes/handler.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

namespace quanqu::api {

using http::Request;
using http::Response;
using nlohmann::json;

namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kDefaultDays = 30;

Error invalid_query(std::vector<FieldError> fields) {
  return Error::invalid("invalid_query", "the query has invalid parameters", std::move(fields));
}

// The period: `from` inclusive, `to` exclusive, except that a date alone as `to` includes that
// day. Without `to`, up to the end of today (UTC); without `from`, the 30 days before `to`.
Result<reports::SalesQuery> read_query(const Request& r) {
  reports::SalesQuery q;
  std::vector<FieldError> errors;
  auto by = r.query_param("by").value_or("channel");
  if (auto grouping = reports::parse_grouping(by)) q.by = *grouping;
  else errors.push_back({"by", "must be channel, location or day"});
  auto format = r.query_param("format").value_or("json");
  if (format != "json" && format != "csv") errors.push_back({"format", "must be json or csv"});
  auto to_text = r.query_param("to");
  if (to_text) {
    auto to = reports::parse_utc_time(*to_text);
    if (!to) errors.push_back({"to", "must be a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM:SSZ)"});
    else q.to_ms = *to + (to_text->size() == 10 ? kDayMs : 0);
  } else {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    q.to_ms = (now / kDayMs + 1) * kDayMs;
  }
  if (auto from_text = r.query_param("from")) {
    auto from = reports::parse_utc_time(*from_text);
    if (!from) errors.push_back({"from", "must be a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM:SSZ)"});
    else q.from_ms = *from;
  } else {
    q.from_ms = q.to_ms - kDefaultDays * kDayMs;
  }
  if (!errors.empty()) return invalid_query(std::move(errors));
  if (q.to_ms <= q.from_ms) return invalid_query({{"to", "must be after from"}});
  if (q.to_ms - q.from_ms > reports::kMaxReportDays * kDayMs)
    return invalid_query({{"to", "the period must be at most " + std::to_string(reports::kMaxReportDays) + " days"}});
  return q;
}

// The pickup share rounded to four decimals (0.2857).
double share_of(const reports::SalesRow& row) { return std::round(row.pickup_share() * 10000) / 10000; }

json row_json(const reports::SalesRow& row) {
  return {{"key", row.key},
          {"label", row.label},
          {"currency", row.currency},
          {"orders", row.orders},
          {"cancelled_orders", row.cancelled_orders},
          {"units", row.units},
          {"revenue", money_json(row.revenue, row.currency)},
          {"average_order_value", money_json(row.average_order_value, row.currency)},
          {"refunds", money_json(row.refunds, row.currency)},
          {"net_revenue", money_json(row.net_revenue, row.currency)},
          {"pickup_orders", row.pickup_orders},
          {"pickup_share", share_of(row)}};
}

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string share_csv(const reports::SalesRow& row) {
  char out[16];
  std::snprintf(out, sizeof out, "%.4f", share_of(row));
  return out;
}

Response csv_reply(const reports::SalesQuery& q, const std::vector<reports::SalesRow>& rows) {
  std::string body =
      "key,label,currency,orders,cancelled_orders,units,revenue,average_order_value,refunds,net_revenue,pickup_orders,"
      "pickup_share\r\n";
  for (const auto& row : rows) {
    body += csv_field(row.key) + ',' + csv_field(row.label) + ',' + row.currency + ',' + std::to_string(row.orders) +
            ',' + std::to_string(row.cancelled_orders) + ',' + std::to_string(row.units) + ',' +
            std::to_string(row.revenue) + ',' + std::to_string(row.average_order_value) + ',' +
            std::to_string(row.refunds) + ',' + std::to_string(row.net_revenue) + ',' +
            std::to_string(row.pickup_orders) + ',' + share_csv(row) + "\r\n";
  }
  Response r;
  r.status = 200;
  r.content_type = "text/csv; charset=utf-8; header=present";
  r.body = std::move(body);
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"sales-by-" +
                                                    std::string(reports::to_string(q.by)) + ".csv\"");
  return r;
}

}  // namespace

void register_admin_report_routes(http::Router& router, Services& s) {
  auto report = std::make_shared<reports::SalesReport>(s.db);
  router.add("GET", "/v1/admin/reports/sales", admin_route(s, [report](Request& r) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(reports::SalesQuery q, read_query(r));
    QQ_ASSIGN_OR_RETURN(auto rows, report->run(q));
    if (r.query_param("format").value_or("json") == "csv") return csv_reply(q, rows);
    json items = json::array();
    for (const auto& row : rows) items.push_back(row_json(row));
    return json_reply(200, {{"from", format_rfc3339(q.from_ms)},
                            {"to", format_rfc3339(q.to_ms)},
                            {"by", reports::to_string(q.by)},
                            {"rows", std::move(items)}});
  }));
}

}  // namespace quanqu::api
