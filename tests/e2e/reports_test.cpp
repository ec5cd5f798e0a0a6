// The sales report against the real server: per channel, location and day, JSON and CSV, and its refusals.
#include "support/fixture.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

using quanqu::e2e::kAddress;

class ReportsTest : public E2ETest {
 protected:
  std::string east_, west_, cny_key_, usd_key_, cny_channel_, usd_channel_;

  void SetUp() override {
    E2ETest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    east_ = new_location("report-east");
    west_ = new_location("report-west");
    auto product = admin().post("/v1/admin/products",
                                {{"handle", "report-vase"}, {"title", "Celadon vase"}, {"status", "published"},
                                 {"variants", {{{"sku", "REPORT-VASE"}, {"title", "Tall"},
                                                {"prices", {{{"amount", 10000}, {"currency", "CNY"}},
                                                            {{"amount", 1500}, {"currency", "USD"}}}}}}}});
    ASSERT_EQ(product.status, 201u) << product.body;
    std::string product_id = product.json()["id"];
    for (const auto& [location, units] : {std::pair{east_, 10}, std::pair{west_, 4}}) {
      auto level = admin().put("/v1/admin/inventory-levels",
                               {{"sku", "REPORT-VASE"}, {"location_id", location}, {"on_hand", units}});
      ASSERT_EQ(level.status, 200u) << level.body;
    }
    cny_channel_ = new_channel("report-cn", "CNY", {east_, west_});
    usd_channel_ = new_channel("report-us", "USD", {west_, east_});
    cny_key_ = open_storefront(cny_channel_, {"report-vase"}, "report-cn");
    usd_key_ = open_storefront(usd_channel_, {"report-vase"}, "report-us");
  }

  std::string new_location(const std::string& code) {
    auto r = admin().post("/v1/admin/stock-locations",
                          {{"code", code}, {"name", code}, {"kind", "store"}, {"pickup_enabled", true},
                           {"address", {{"line1", "1 Huaihai Road"}, {"city", "Shanghai"}, {"country", "CN"}}}});
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("id", "");
  }

  std::string new_channel(const std::string& code, const std::string& currency, const std::vector<std::string>& locations) {
    auto r = admin().post("/v1/admin/channels", {{"code", code}, {"type", "web"}, {"currency", currency},
                                                  {"tax_rate_bp", 0}, {"tax_inclusive", true},
                                                  {"location_ids", locations}});
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("id", "");
  }

  // Checks out `quantity` vases on the storefront of `key`, shipped or picked up at `pickup_at`;
  // returns the order.
  json buy(const std::string& key, std::int64_t quantity, const std::string& idempotency_key,
           const std::string& pickup_at = "") {
    HttpClient shop = storefront(key);
    json details = {{"email", "buyer@example.cn"}, {"items", {{{"sku", "REPORT-VASE"}, {"quantity", quantity}}}}};
    if (pickup_at.empty()) details["shipping_address"] = kAddress;
    auto cart = shop.post("/v1/store/carts", details);
    EXPECT_EQ(cart.status, 201u) << cart.body;
    if (!pickup_at.empty()) {
      auto chosen = shop.patch("/v1/store/carts/" + cart.json().value("id", ""),
                               {{"fulfilment", {{"type", "pickup"}, {"location_id", pickup_at}}}});
      EXPECT_EQ(chosen.status, 200u) << chosen.body;
    }
    auto order = shop.request("POST", "/v1/store/carts/" + cart.json().value("id", "") + "/checkout", std::string("{}"),
                              {{"Idempotency-Key", idempotency_key}});
    EXPECT_EQ(order.status, 201u) << order.body;
    return order.json();
  }

  // The report's rows keyed by label and currency.
  std::map<std::string, json> rows(const std::string& query) {
    auto r = admin().get("/v1/admin/reports/sales?" + query);
    EXPECT_EQ(r.status, 200u) << r.body;
    std::map<std::string, json> out;
    const json report = r.json().value("rows", json::array());
    for (const auto& row : report) out[row["label"].get<std::string>() + "/" + row["currency"].get<std::string>()] = row;
    return out;
  }
};

std::string today_utc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char out[16];
  std::strftime(out, sizeof out, "%Y-%m-%d", &tm);
  return out;
}

TEST_F(ReportsTest, SalesPerChannelLocationAndDay) {
  ASSERT_FALSE(HasFailure());
  json first = buy(cny_key_, 2, "report-1");      // 2 from east, paid, 5000 refunded
  json cancelled = buy(cny_key_, 1, "report-2");  // 1 from east, paid, then cancelled (and so refunded)
  json split = buy(usd_key_, 9, "report-3");      // no store holds 9: 4 from west, 5 from east; 900 refunded
  buy(cny_key_, 1, "report-4", east_);  // picked up at east
  auto act = [&](const json& order, const std::string& move, const json& body) {
    auto r = admin().post("/v1/admin/orders/" + order.value("id", "") + "/" + move, body);
    EXPECT_EQ(r.status, move == "refunds" ? 201u : 200u) << move << ": " << r.body;
    return r.json();
  };
  for (const json* order : {&first, &cancelled, &split}) act(*order, "mark-paid", json::object());
  json refunded = act(first, "refunds", {{"amount", 5000}, {"reason", "chipped glaze"}});
  EXPECT_EQ(refunded["refund"]["status"], "succeeded") << refunded.dump();
  act(split, "refunds", {{"amount", 900}, {"reason", "late delivery"}});
  json cancel = act(cancelled, "cancel", {{"reason", "customer asked"}});
  EXPECT_EQ(cancel["refunds"][0]["amount"]["amount"], 10000) << "cancelling a paid order refunds it: " << cancel.dump();

  auto by_channel = rows("by=channel");
  ASSERT_EQ(by_channel.size(), 2u);
  ASSERT_TRUE(by_channel.count("report-cn/CNY") && by_channel.count("report-us/USD"));
  const json cn = by_channel["report-cn/CNY"], us = by_channel["report-us/USD"];
  EXPECT_EQ(cn["key"], cny_channel_);
  EXPECT_EQ(cn["orders"], 2);
  EXPECT_EQ(cn["cancelled_orders"], 1);
  EXPECT_EQ(cn["units"], 3);
  EXPECT_EQ(cn["revenue"], (json{{"amount", 30000}, {"currency", "CNY"}}));
  EXPECT_EQ(cn["average_order_value"]["amount"], 15000);
  // The cancelled order's refund is not counted: its total is not revenue either.
  EXPECT_EQ(cn["refunds"], (json{{"amount", 5000}, {"currency", "CNY"}}));
  EXPECT_EQ(cn["net_revenue"], (json{{"amount", 25000}, {"currency", "CNY"}}));
  EXPECT_EQ(us["refunds"]["amount"], 900);
  EXPECT_EQ(us["net_revenue"]["amount"], 12600);
  EXPECT_EQ(cn["pickup_orders"], 1);
  EXPECT_EQ(cn["pickup_share"], 0.5);
  EXPECT_EQ(us["pickup_orders"], 0);
  EXPECT_EQ(us["pickup_share"], 0);
  EXPECT_EQ(us["orders"], 1);
  EXPECT_EQ(us["units"], 9);
  EXPECT_EQ(us["revenue"]["amount"], 13500);

  // By location, the split order's revenue is shared by units: 4/9 at west, 5/9 at east.
  auto by_location = rows("by=location");
  ASSERT_EQ(by_location.size(), 3u);
  EXPECT_EQ(by_location["report-east/CNY"]["units"], 3);
  EXPECT_EQ(by_location["report-east/CNY"]["revenue"]["amount"], 30000);
  EXPECT_EQ(by_location["report-east/CNY"]["pickup_orders"], 1);
  EXPECT_EQ(by_location["report-east/CNY"]["cancelled_orders"], 1);
  EXPECT_EQ(by_location["report-east/USD"]["units"], 5);
  EXPECT_EQ(by_location["report-east/USD"]["revenue"]["amount"], 7500);
  EXPECT_EQ(by_location["report-west/USD"]["units"], 4);
  EXPECT_EQ(by_location["report-west/USD"]["revenue"]["amount"], 6000);
  EXPECT_EQ(by_location["report-west/USD"]["orders"], 1);
  // Refunds are shared the same way.
  EXPECT_EQ(by_location["report-east/CNY"]["refunds"]["amount"], 5000);
  EXPECT_EQ(by_location["report-east/USD"]["refunds"]["amount"], 500);
  EXPECT_EQ(by_location["report-west/USD"]["refunds"]["amount"], 400);
  EXPECT_EQ(by_location["report-west/USD"]["net_revenue"]["amount"], 5600);

  // By day: today, one row per currency; a period before today is empty.
  std::string today = today_utc();
  auto by_day = rows("by=day&from=" + today + "&to=" + today);
  ASSERT_EQ(by_day.size(), 2u);
  ASSERT_TRUE(by_day.count(today + "/CNY") && by_day.count(today + "/USD"));
  EXPECT_EQ(by_day[today + "/CNY"]["orders"], 2);
  EXPECT_EQ(by_day[today + "/USD"]["units"], 9);
  EXPECT_TRUE(rows("from=2020-01-01&to=2020-01-31").empty());

  // CSV: a header and the same rows, amounts in minor units.
  auto csv = admin().get("/v1/admin/reports/sales?by=channel&format=csv");
  ASSERT_EQ(csv.status, 200u) << csv.body;
  EXPECT_EQ(csv.header("Content-Type").rfind("text/csv", 0), 0u) << csv.header("Content-Type");
  EXPECT_NE(csv.header("Content-Disposition").find("sales-by-channel.csv"), std::string::npos);
  EXPECT_EQ(csv.body,
            "key,label,currency,orders,cancelled_orders,units,revenue,average_order_value,refunds,net_revenue,"
            "pickup_orders,pickup_share\r\n" +
                cny_channel_ + ",report-cn,CNY,2,1,3,30000,15000,5000,25000,1,0.5000\r\n" + usd_channel_ +
                ",report-us,USD,1,0,9,13500,13500,900,12600,0,0.0000\r\n");
}

TEST_F(ReportsTest, BadPeriodsAndGroupingsAreRefused) {
  for (const std::string query : {"by=week", "format=xml", "from=2026-02-30", "to=yesterday", "from=2026-12-01T10:00:00",
                                  "from=2026-12-03&to=2026-12-01", "from=2024-01-01&to=2026-01-01",
                                  "from=2026-12-01T24:00:00Z"}) {
    auto r = admin().get("/v1/admin/reports/sales?" + query);
    EXPECT_EQ(r.status, 400u) << query << ": " << r.body;
    EXPECT_EQ(r.json().value("code", ""), "invalid_query") << query;
  }
  EXPECT_EQ(anonymous().get("/v1/admin/reports/sales").status, 401u);
  EXPECT_EQ(storefront(cny_key_).get("/v1/admin/reports/sales").status, 401u);
}

}  // namespace
