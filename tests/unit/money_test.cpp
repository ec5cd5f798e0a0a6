// Unit tests for Money: checked arithmetic, tax rounding and the currency table.
#include "common/money.h"

#include <gtest/gtest.h>

#include <limits>

namespace quanqu {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

TEST(MoneyTest, AddsAndSubtractsSameCurrency) {
  auto sum = add({1999, "CNY"}, {1, "CNY"});
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, (Money{2000, "CNY"}));
  auto diff = subtract({1000, "CNY"}, {2500, "CNY"});
  ASSERT_TRUE(diff.ok());
  EXPECT_EQ(*diff, (Money{-1500, "CNY"}));
}

TEST(MoneyTest, CurrencyMismatchIsAnError) {
  auto sum = add({100, "CNY"}, {100, "USD"});
  ASSERT_FALSE(sum.ok());
  EXPECT_EQ(sum.error().code, "money.currency_mismatch");
  EXPECT_EQ(sum.error().kind, ErrorKind::invalid_argument);
  auto diff = subtract({100, "CNY"}, {100, "USD"});
  ASSERT_FALSE(diff.ok());
  EXPECT_EQ(diff.error().code, "money.currency_mismatch");
}

TEST(MoneyTest, OverflowIsAnErrorNeverAWrap) {
  auto sum = add({kMax, "CNY"}, {1, "CNY"});
  ASSERT_FALSE(sum.ok());
  EXPECT_EQ(sum.error().code, "money.overflow");
  auto diff = subtract({kMin, "CNY"}, {1, "CNY"});
  ASSERT_FALSE(diff.ok());
  EXPECT_EQ(diff.error().code, "money.overflow");
  auto product = multiply({kMax / 2 + 1, "CNY"}, 2);
  ASSERT_FALSE(product.ok());
  EXPECT_EQ(product.error().code, "money.overflow");
  auto negated = multiply({kMin, "CNY"}, -1);
  ASSERT_FALSE(negated.ok());
  EXPECT_EQ(negated.error().code, "money.overflow");
}

TEST(MoneyTest, MultiplyKeepsCurrency) {
  auto product = multiply({12900, "CNY"}, 3);
  ASSERT_TRUE(product.ok());
  EXPECT_EQ(*product, (Money{38700, "CNY"}));
  auto edge = multiply({kMax, "USD"}, 1);
  ASSERT_TRUE(edge.ok());
  EXPECT_EQ(edge->amount, kMax);
}

TEST(MoneyTest, ExclusiveTaxRoundsHalfAwayFromZero) {
  EXPECT_EQ(tax_exclusive_round_half_up(10000, 1300), 1300);
  // 50 * 13% = 6.5 -> 7; 49 * 13% = 6.37 -> 6.
  EXPECT_EQ(tax_exclusive_round_half_up(50, 1300), 7);
  EXPECT_EQ(tax_exclusive_round_half_up(49, 1300), 6);
  // Negative amounts (refunds, discounts) round away from zero as well.
  EXPECT_EQ(tax_exclusive_round_half_up(-50, 1300), -7);
  EXPECT_EQ(tax_exclusive_round_half_up(-49, 1300), -6);
  EXPECT_EQ(tax_exclusive_round_half_up(12345, 0), 0);
}

TEST(MoneyTest, InclusiveTaxRoundsHalfAwayFromZero) {
  // 11300 gross at 13% contains exactly 1300.
  EXPECT_EQ(tax_inclusive_round_half_up(11300, 1300), 1300);
  // 12900 * 1300 / 11300 = 1484.07 -> 1484.
  EXPECT_EQ(tax_inclusive_round_half_up(12900, 1300), 1484);
  // Exact halves at 100%: 5 contains 2.5 -> 3, 3 contains 1.5 -> 2; negatives mirror them.
  EXPECT_EQ(tax_inclusive_round_half_up(5, 10000), 3);
  EXPECT_EQ(tax_inclusive_round_half_up(-5, 10000), -3);
  EXPECT_EQ(tax_inclusive_round_half_up(3, 10000), 2);  // 1.5 -> 2
  EXPECT_EQ(tax_inclusive_round_half_up(-3, 10000), -2);
  EXPECT_EQ(tax_inclusive_round_half_up(1, 1300), 0);
}

TEST(MoneyTest, TaxOnExtremeAmountsDoesNotOverflow) {
  EXPECT_EQ(tax_exclusive_round_half_up(1'000'000'000'000'000, 1300), 130'000'000'000'000);
  EXPECT_EQ(tax_inclusive_round_half_up(1'130'000'000'000'000, 1300), 130'000'000'000'000);
}

TEST(MoneyTest, CurrencyFromCode) {
  auto cny = Currency::from_code("CNY");
  ASSERT_TRUE(cny.has_value());
  EXPECT_EQ(cny->code(), "CNY");
  EXPECT_EQ(cny->minor_unit_digits(), 2);
  auto jpy = Currency::from_code("JPY");
  ASSERT_TRUE(jpy.has_value());
  EXPECT_EQ(jpy->minor_unit_digits(), 0);
  auto kwd = Currency::from_code("KWD");
  ASSERT_TRUE(kwd.has_value());
  EXPECT_EQ(kwd->minor_unit_digits(), 3);
  EXPECT_FALSE(Currency::from_code("cny").has_value());
  EXPECT_FALSE(Currency::from_code("XXX").has_value());
  EXPECT_FALSE(Currency::from_code("").has_value());
  EXPECT_FALSE(Currency::from_code("CNYY").has_value());
  EXPECT_TRUE(*Currency::from_code("USD") == *Currency::from_code("USD"));
}

}  // namespace
}  // namespace quanqu
