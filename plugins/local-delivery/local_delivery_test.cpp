// Unit tests of the local-delivery plugin against FakeHost: distances, tiers and their boundaries, free delivery,
// refusals.
#include "great_circle.h"

#include <quanqu/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <stdexcept>
#include <string>

extern "C" const quanqu_plugin_descriptor* quanqu_plugin_entry_v1(void);

namespace {

using local_delivery::great_circle_km;
using quanqu::sdk::testing::FakeHost;
using Json = nlohmann::json;

// The store: People's Square, Shanghai.
constexpr double kStoreLat = 31.2304;
constexpr double kStoreLon = 121.4737;
// km per degree of latitude on the sphere the plugin uses.
const double kKmPerDegree = 6371.0088 * 3.14159265358979323846 / 180.0;

// A point `km` due north of the store (along its meridian, so the distance is exactly that arc).
Json address_north(double km) {
  return Json{{"line1", "1 Nanjing Rd"},
              {"city", "Shanghai"},
              {"latitude", kStoreLat + km / kKmPerDegree},
              {"longitude", kStoreLon}};
}

Json store() {
  return Json{{"id", "loc_1"},
              {"code", "main"},
              {"name", "People's Square store"},
              {"address", {{"city", "Shanghai"}, {"latitude", kStoreLat}, {"longitude", kStoreLon}}}};
}

// Tiers deliberately out of order: the plugin sorts them.
Json config() {
  return Json{
      {"tiers",
       Json::array({{{"max_km", 15}, {"fee", 1500}}, {{"max_km", 5}, {"fee", 500}}, {{"max_km", 10.5}, {"fee", 900}}})},
      {"label", "Local delivery"}};
}

class LocalDeliveryTest : public ::testing::Test {
 protected:
  LocalDeliveryTest() : host(&quanqu_plugin_entry_v1) {}

  Json quote(const Json& shipping_address, const Json& cfg = config(), std::int64_t subtotal = 10000,
             const Json& location = store()) {
    Json input{{"channel", {{"id", "ch_1"}, {"code", "web"}, {"type", "web"}, {"currency", "CNY"}}},
               {"cart", {{"id", "cart_1"}, {"currency", "CNY"}, {"subtotal", subtotal}, {"item_count", 2}}},
               {"location", location},
               {"shipping_address", shipping_address},
               {"config", cfg}};
    return host.invoke("fulfilment", "local-delivery", "quote", input);
  }

  FakeHost host;
};

// ---- distance ----

TEST(GreatCircle, KnownDistances) {
  EXPECT_DOUBLE_EQ(great_circle_km(10, 20, 10, 20), 0.0);
  EXPECT_NEAR(great_circle_km(0, 0, 1, 0), 111.19508, 1e-5);         // a degree of latitude
  EXPECT_NEAR(great_circle_km(0, 0, 0, 1), 111.19508, 1e-5);         // a degree of longitude on the equator
  EXPECT_NEAR(great_circle_km(60, 0, 60, 1), 55.59701, 1e-4);        // ... half as long at 60 degrees
  EXPECT_NEAR(great_circle_km(0, 0, 0, 180), 20015.1, 0.1);          // half the circumference
  EXPECT_NEAR(great_circle_km(0, 179.5, 0, -179.5), 111.195, 1e-3);  // across the antimeridian
  // Shanghai People's Square to Beijing Tiananmen.
  EXPECT_NEAR(great_circle_km(31.2304, 121.4737, 39.9087, 116.3975), 1068.140, 1e-3);
}

// ---- tiers ----

TEST_F(LocalDeliveryTest, TheNearestTierThatReachesTheAddressGivesTheFee) {
  Json q = quote(address_north(4.2));
  EXPECT_EQ(q.at("amount"), 500);
  EXPECT_EQ(q.at("label"), "Local delivery (4.2 km)");
  EXPECT_EQ(q.at("data"), (Json{{"distance_km", 4.2}, {"tier_max_km", 5}}));

  q = quote(address_north(7.0));
  EXPECT_EQ(q.at("amount"), 900);
  EXPECT_EQ(q.at("label"), "Local delivery (7.0 km)");
  EXPECT_EQ(q.at("data").at("tier_max_km"), 10.5);

  q = quote(address_north(14.96));
  EXPECT_EQ(q.at("amount"), 1500);
  EXPECT_EQ(q.at("data"), (Json{{"distance_km", 15.0}, {"tier_max_km", 15}}));
}

TEST_F(LocalDeliveryTest, AnAddressAtTheStoreIsInTheFirstTier) {
  Json q = quote(Json{{"latitude", kStoreLat}, {"longitude", kStoreLon}});
  EXPECT_EQ(q.at("amount"), 500);
  EXPECT_EQ(q.at("label"), "Local delivery (0.0 km)");
}

TEST_F(LocalDeliveryTest, EastWestDistancesCountToo) {
  // 0.1 degree of longitude at 31.23 degrees north is about 9.51 km.
  Json q = quote(Json{{"latitude", kStoreLat}, {"longitude", kStoreLon + 0.1}});
  EXPECT_EQ(q.at("amount"), 900);
  EXPECT_EQ(q.at("data").at("distance_km"), 9.5);
}

TEST_F(LocalDeliveryTest, ATiersReachIncludesItsBoundary) {
  Json address = address_north(5.0);
  double exact =
      great_circle_km(kStoreLat, kStoreLon, address["latitude"].get<double>(), address["longitude"].get<double>());
  Json cfg{{"tiers", Json::array({{{"max_km", exact}, {"fee", 500}}, {{"max_km", 20}, {"fee", 1500}}})}};
  EXPECT_EQ(quote(address, cfg).at("amount"), 500);

  // One step of a double below the distance: the next tier.
  cfg["tiers"][0]["max_km"] = std::nextafter(exact, 0.0);
  EXPECT_EQ(quote(address, cfg).at("amount"), 1500);
}

TEST_F(LocalDeliveryTest, ADefaultLabelAndACustomOne) {
  Json cfg = config();
  cfg.erase("label");
  EXPECT_EQ(quote(address_north(2), cfg).at("label"), "Local delivery (2.0 km)");
  cfg["label"] = "Courier";
  EXPECT_EQ(quote(address_north(2), cfg).at("label"), "Courier (2.0 km)");
}

// ---- free delivery ----

TEST_F(LocalDeliveryTest, FreeAtOrAboveFreeOver) {
  Json cfg = config();
  cfg["free_over"] = 20000;
  EXPECT_EQ(quote(address_north(7), cfg, 20000).at("amount"), 0);
  EXPECT_EQ(quote(address_north(7), cfg, 25000).at("amount"), 0);
  EXPECT_EQ(quote(address_north(7), cfg, 19999).at("amount"), 900);
  // Free delivery still says how far and which tier.
  EXPECT_EQ(quote(address_north(7), cfg, 20000).at("data").at("tier_max_km"), 10.5);
}

TEST_F(LocalDeliveryTest, WithoutFreeOverEveryCartPays) {
  EXPECT_EQ(quote(address_north(7), config(), 100'000'000).at("amount"), 900);
}

TEST_F(LocalDeliveryTest, FreeOverZeroMakesEveryDeliveryFree) {
  Json cfg = config();
  cfg["free_over"] = 0;
  EXPECT_EQ(quote(address_north(7), cfg, 0).at("amount"), 0);
}

// ---- refusals ----

TEST_F(LocalDeliveryTest, BeyondTheLastTierIsOutOfRange) {
  Json q = quote(address_north(23.4));
  EXPECT_EQ(q,
            (Json{{"refusal",
                   {{"code", "local-delivery.out_of_range"},
                    {"message", "the address is 23.4 km from People's Square store; local delivery reaches 15 km"}}}}));
}

TEST_F(LocalDeliveryTest, OutOfRangeEvenWhenDeliveryWouldBeFree) {
  Json cfg = config();
  cfg["free_over"] = 0;
  cfg["tiers"] = Json::array({{{"max_km", 7.5}, {"fee", 500}}});
  Json q = quote(address_north(8), cfg);
  EXPECT_EQ(q.at("refusal").at("code"), "local-delivery.out_of_range");
  EXPECT_EQ(q.at("refusal").at("message"),
            "the address is 8.0 km from People's Square store; local delivery reaches 7.5 km");
}

TEST_F(LocalDeliveryTest, AnAddressWithoutCoordinatesIsNotLocated) {
  Json expected{{"refusal",
                 {{"code", "local-delivery.address_not_located"},
                  {"message", "local delivery needs the shipping address's latitude and longitude"}}}};
  EXPECT_EQ(quote(Json{{"line1", "1 Nanjing Rd"}, {"city", "Shanghai"}}), expected);
  EXPECT_EQ(quote(Json{{"latitude", kStoreLat}}), expected);
  EXPECT_EQ(quote(Json{{"longitude", kStoreLon}}), expected);
  EXPECT_EQ(quote(Json{{"latitude", nullptr}, {"longitude", nullptr}}), expected);
  EXPECT_EQ(quote(Json{{"latitude", "31.2"}, {"longitude", "121.4"}}), expected);
  EXPECT_EQ(quote(Json{{"latitude", 91}, {"longitude", kStoreLon}}), expected);
  EXPECT_EQ(quote(Json::object()), expected);
}

TEST_F(LocalDeliveryTest, ALocationWithoutCoordinatesIsNotLocated) {
  Json location = store();
  location["address"].erase("latitude");
  Json q = quote(address_north(2), config(), 10000, location);
  EXPECT_EQ(q.at("refusal").at("code"), "local-delivery.location_not_located");
  EXPECT_NE(q.at("refusal").at("message").get<std::string>().find("People's Square store"), std::string::npos);

  EXPECT_EQ(quote(address_north(2), config(), 10000, Json::object()).at("refusal").at("code"),
            "local-delivery.location_not_located");
}

TEST_F(LocalDeliveryTest, TheShippingAddressIsCheckedBeforeTheLocation) {
  EXPECT_EQ(quote(Json::object(), config(), 10000, Json::object()).at("refusal").at("code"),
            "local-delivery.address_not_located");
}

TEST_F(LocalDeliveryTest, ALocationWithTopLevelCoordinatesWorks) {
  Json location{{"id", "loc_2"}, {"name", "Kiosk"}, {"latitude", kStoreLat}, {"longitude", kStoreLon}};
  EXPECT_EQ(quote(address_north(3), config(), 10000, location).at("amount"), 500);
}

TEST_F(LocalDeliveryTest, ABrokenConfigIsAFailureNotARefusal) {
  EXPECT_THROW(quote(address_north(3), Json::object()), std::runtime_error);
  EXPECT_THROW(quote(address_north(3), Json{{"tiers", Json::array()}}), std::runtime_error);
  EXPECT_THROW(quote(address_north(3), Json{{"tiers", Json::array({{{"max_km", 5}}})}}), std::runtime_error);
  EXPECT_THROW(quote(address_north(3), Json{{"tiers", Json::array({{{"max_km", 5}, {"fee", 1.5}}})}}),
               std::runtime_error);
}

TEST_F(LocalDeliveryTest, OnlyTheQuoteOperationExists) {
  EXPECT_THROW(host.invoke("fulfilment", "local-delivery", "ship", Json::object()), std::runtime_error);
  EXPECT_THROW(host.invoke("payment", "local-delivery", "quote", Json::object()), std::runtime_error);
}

// ---- the manifest ----

TEST(LocalDeliveryManifest, AgreesWithTheLibrary) {
  std::ifstream in(QUANQU_PLUGIN_MANIFEST);
  ASSERT_TRUE(in) << QUANQU_PLUGIN_MANIFEST;
  Json m = Json::parse(in);
  EXPECT_EQ(quanqu::sdk::testing::manifest_mismatches(QUANQU_PLUGIN_MANIFEST, &quanqu_plugin_entry_v1),
            std::vector<std::string>{});
  EXPECT_EQ(m.at("provides"), Json::array({"fulfilment_provider"}));
  const Json& schema = m.at("config_schema");
  EXPECT_EQ(schema.at("required"), Json::array({"tiers"}));
  EXPECT_EQ(schema.at("additionalProperties"), false);
  const Json& tiers = schema.at("properties").at("tiers");
  EXPECT_EQ(tiers.at("minItems"), 1);
  EXPECT_EQ(tiers.at("maxItems"), 20);
  EXPECT_EQ(tiers.at("items").at("required"), Json::array({"max_km", "fee"}));
  EXPECT_EQ(tiers.at("items").at("properties").at("max_km").at("exclusiveMinimum"), 0);
  EXPECT_EQ(schema.at("properties").at("label").at("default"), "Local delivery");
  EXPECT_EQ(schema.at("properties").at("label").at("maxLength"), 60);
}

}  // namespace
