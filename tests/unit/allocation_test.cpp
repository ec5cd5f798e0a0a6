// Allocation planning (whole order, line by line, a split line), store distances and pickup codes.
#include "common/geo.h"
#include "inventory/allocation.h"
#include "orders/pickup_code.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace {

using quanqu::LocationId;
using quanqu::OrderId;
using quanqu::VariantId;
using namespace quanqu::inventory;

const LocationId kA("loc_a"), kB("loc_b"), kC("loc_c");
const VariantId kShirt("var_shirt"), kShoe("var_shoe");

std::vector<std::tuple<std::string, std::string, std::int64_t>> rows(const AllocationPlan& p) {
  std::vector<std::tuple<std::string, std::string, std::int64_t>> out;
  for (const auto& a : p.allocations) out.emplace_back(a.variant_id.value, a.location_id.value, a.quantity);
  return out;
}

TEST(AllocationPlan, TheFirstLocationThatHasTheWholeOrderSuppliesIt) {
  // A has the shirts but not the shoes; B has both: the whole order comes from B, although A is
  // preferred and could supply a line.
  auto plan = plan_allocations({{"l1", kShirt, 2}, {"l2", kShoe, 1}}, {kA, kB, kC},
                               {{kShirt, kA, 5}, {kShirt, kB, 2}, {kShoe, kB, 1}, {kShirt, kC, 9}, {kShoe, kC, 9}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(rows(plan), (decltype(rows(plan)){{"var_shirt", "loc_b", 2}, {"var_shoe", "loc_b", 1}}));
}

TEST(AllocationPlan, OtherwiseEachLineComesWholeFromTheFirstLocationThatHasIt) {
  auto plan = plan_allocations({{"l1", kShirt, 2}, {"l2", kShoe, 3}}, {kA, kB, kC},
                               {{kShirt, kA, 1}, {kShirt, kB, 2}, {kShoe, kA, 3}, {kShoe, kC, 5}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(rows(plan), (decltype(rows(plan)){{"var_shirt", "loc_b", 2}, {"var_shoe", "loc_a", 3}}));
}

TEST(AllocationPlan, ALineNoLocationHasWholeIsSplitInPreferenceOrder) {
  auto plan = plan_allocations({{"l1", kShirt, 6}}, {kA, kB, kC}, {{kShirt, kA, 2}, {kShirt, kB, 0}, {kShirt, kC, 5}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(rows(plan), (decltype(rows(plan)){{"var_shirt", "loc_a", 2}, {"var_shirt", "loc_c", 4}}));
}

TEST(AllocationPlan, ShortLinesAreAllListedAndNothingIsAllocated) {
  auto plan = plan_allocations({{"l1", kShirt, 6}, {"l2", kShoe, 1}, {"l3", VariantId("var_hat"), 2}}, {kA, kB},
                               {{kShirt, kA, 2}, {kShirt, kB, 3}, {kShoe, kB, 1}});
  EXPECT_FALSE(plan.ok());
  EXPECT_TRUE(plan.allocations.empty());
  ASSERT_EQ(plan.shortages.size(), 2u);
  EXPECT_EQ(plan.shortages[0].line_id, "l1");
  EXPECT_EQ(plan.shortages[0].requested, 6);
  EXPECT_EQ(plan.shortages[0].available, 5);
  EXPECT_EQ(plan.shortages[1].line_id, "l3");
  EXPECT_EQ(plan.shortages[1].available, 0);
}

TEST(AllocationPlan, UnitsGivenToOneLineAreNotOfferedToAnother) {
  // Two lines of one variant: 3 + 3 from A (4) and B (3) cannot both be whole at A.
  auto plan = plan_allocations({{"l1", kShirt, 3}, {"l2", kShirt, 3}}, {kA, kB}, {{kShirt, kA, 4}, {kShirt, kB, 3}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(rows(plan), (decltype(rows(plan)){{"var_shirt", "loc_a", 3}, {"var_shirt", "loc_b", 3}}));
  auto too_many = plan_allocations({{"l1", kShirt, 4}, {"l2", kShirt, 4}}, {kA, kB}, {{kShirt, kA, 4}, {kShirt, kB, 3}});
  EXPECT_FALSE(too_many.ok());
}

TEST(AllocationPlan, OnlyTheGivenLocationsAreUsed) {
  // A pickup: the store alone, even when a warehouse has plenty.
  auto plan = plan_allocations({{"l1", kShirt, 2}}, {kB}, {{kShirt, kA, 50}, {kShirt, kB, 1}});
  EXPECT_FALSE(plan.ok());
  EXPECT_EQ(plan.shortages.at(0).available, 1);
}

TEST(Distance, HaversineMatchesKnownDistances) {
  EXPECT_DOUBLE_EQ(quanqu::haversine_metres(31.2237, 121.4453, 31.2237, 121.4453), 0.0);
  // Shanghai Jing'an to People's Square: about 2.8 km; Shanghai to Hangzhou stores: about 165 km.
  EXPECT_NEAR(quanqu::haversine_metres(31.2237, 121.4453, 31.2304, 121.4737), 2800, 100);
  EXPECT_NEAR(quanqu::haversine_metres(31.2237, 121.4453, 30.2575, 120.1631), 165000, 3000);
  // One degree of latitude is about 111.2 km; antipodes are half the circumference.
  EXPECT_NEAR(quanqu::haversine_metres(0, 0, 1, 0), 111195, 5);
  EXPECT_NEAR(quanqu::haversine_metres(0, 0, 0, 180), 20015114, 10);
}

TEST(PickupCode, SixRandomDigitsSealedForTheTokenHolderOnly) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string code = quanqu::orders::new_pickup_code();
    ASSERT_TRUE(quanqu::orders::looks_like_pickup_code(code)) << code;
    seen.insert(code);
  }
  EXPECT_GT(seen.size(), 190u);
  OrderId order("order_x");
  for (const std::string code : {"000000", "004217", "999999"}) {
    auto sealed = quanqu::orders::seal_pickup_code(code, "qq_ot_secret", order);
    EXPECT_GE(sealed, 0);
    EXPECT_LT(sealed, 1000000);
    EXPECT_EQ(quanqu::orders::unseal_pickup_code(sealed, "qq_ot_secret", order), code);
    EXPECT_NE(quanqu::orders::unseal_pickup_code(sealed, "qq_ot_other", order), code);
  }
  EXPECT_EQ(quanqu::orders::pickup_code_hash(order, "123456"), quanqu::orders::pickup_code_hash(order, "123456"));
  EXPECT_NE(quanqu::orders::pickup_code_hash(order, "123456"),
            quanqu::orders::pickup_code_hash(OrderId("order_y"), "123456"));
  EXPECT_FALSE(quanqu::orders::looks_like_pickup_code("12345"));
  EXPECT_FALSE(quanqu::orders::looks_like_pickup_code("12345a"));
}

}  // namespace
