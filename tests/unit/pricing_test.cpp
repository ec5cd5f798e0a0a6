// Unit tests for pricing: exclusive and inclusive totals, per-line rounding, explanations and limits.
#include "pricing/pricing.h"

#include <gtest/gtest.h>

namespace quanqu::pricing {
namespace {

const Explanation* find_kind(const Totals& t, const std::string& kind) {
  for (const auto& e : t.explanation)
    if (e.kind == kind) return &e;
  return nullptr;
}

TEST(PricingTest, ExclusiveTaxIsAddedOnTop) {
  auto t = price("CNY", {{"a", 10000, 2}, {"b", 2500, 1}}, {1300, false});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->currency, "CNY");
  ASSERT_EQ(t->lines.size(), 2u);
  EXPECT_EQ(t->lines[0].key, "a");
  EXPECT_EQ(t->lines[0].subtotal, 20000);
  EXPECT_EQ(t->lines[0].tax, 2600);
  EXPECT_EQ(t->lines[0].total, 22600);
  EXPECT_EQ(t->lines[1].tax, 325);
  EXPECT_EQ(t->lines[1].total, 2825);
  EXPECT_EQ(t->subtotal, 22500);
  EXPECT_EQ(t->tax_total, 2925);
  EXPECT_EQ(t->shipping_total, 0);
  EXPECT_EQ(t->discount_total, 0);
  EXPECT_EQ(t->total, 25425);
  EXPECT_FALSE(t->tax.inclusive);
  EXPECT_EQ(t->tax.rate_bp, 1300);
}

TEST(PricingTest, InclusiveTaxIsContainedInTheTotal) {
  auto t = price("CNY", {{"a", 11300, 1}, {"b", 12900, 2}}, {1300, true});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->lines[0].tax, 1300);
  EXPECT_EQ(t->lines[0].total, 11300);
  // 25800 * 13 / 113 = 2968.14 -> 2968.
  EXPECT_EQ(t->lines[1].subtotal, 25800);
  EXPECT_EQ(t->lines[1].tax, 2968);
  EXPECT_EQ(t->lines[1].total, 25800);
  EXPECT_EQ(t->subtotal, 37100);
  EXPECT_EQ(t->tax_total, 4268);
  EXPECT_EQ(t->total, 37100);
}

TEST(PricingTest, TaxIsRoundedPerLineThenSummed) {
  // Each line of 50 at 13% has 6.5 tax -> 7; three lines give 21, while the
  // tax of the sum (150 -> 19.5 -> 20) would differ. Per line is the contract.
  auto t = price("CNY", {{"a", 50, 1}, {"b", 50, 1}, {"c", 50, 1}}, {1300, false});
  ASSERT_TRUE(t.ok());
  for (const auto& l : t->lines) EXPECT_EQ(l.tax, 7);
  EXPECT_EQ(t->tax_total, 21);
  EXPECT_EQ(t->total, 171);
  // One line of quantity 3 is rounded once: 150 -> 19.5 -> 20.
  auto one = price("CNY", {{"a", 50, 3}}, {1300, false});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->tax_total, 20);
}

TEST(PricingTest, ExplanationLinesAddUpToTheTotal) {
  auto t = price("CNY", {{"a", 10000, 2}, {"b", 2500, 1}}, {1300, false});
  ASSERT_TRUE(t.ok());
  const auto* subtotal = find_kind(*t, "subtotal");
  const auto* tax = find_kind(*t, "tax");
  const auto* shipping = find_kind(*t, "shipping");
  ASSERT_TRUE(subtotal && tax && shipping);
  EXPECT_EQ(subtotal->label, "3 items");
  EXPECT_EQ(subtotal->amount, 22500);
  EXPECT_EQ(tax->label, "Tax 13%");
  EXPECT_FALSE(tax->included);
  std::int64_t sum = 0;
  for (const auto& e : t->explanation)
    if (!e.included) sum += e.amount;
  EXPECT_EQ(sum, t->total);
}

TEST(PricingTest, InclusiveTaxIsExplainedAsIncluded) {
  auto t = price("CNY", {{"a", 11300, 1}}, {1300, true});
  ASSERT_TRUE(t.ok());
  const auto* subtotal = find_kind(*t, "subtotal");
  const auto* tax = find_kind(*t, "tax");
  ASSERT_TRUE(subtotal && tax);
  EXPECT_EQ(subtotal->label, "1 item");
  EXPECT_TRUE(tax->included);
  EXPECT_EQ(tax->amount, 1300);
  EXPECT_NE(tax->label.find("13%"), std::string::npos);
  EXPECT_NE(tax->label.find("included"), std::string::npos);
  std::int64_t sum = 0;
  for (const auto& e : t->explanation)
    if (!e.included) sum += e.amount;
  EXPECT_EQ(sum, t->total);
}

TEST(PricingTest, EmptyCartHasZeroTotals) {
  auto t = price("CNY", {}, {1300, true});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->total, 0);
  EXPECT_EQ(t->tax_total, 0);
  EXPECT_TRUE(t->lines.empty());
}

TEST(PricingTest, QuantityBoundsAreRefused) {
  auto zero = price("CNY", {{"a", 100, 0}}, {1300, false});
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(zero.error().code, "cart.bad_quantity");
  auto too_many = price("CNY", {{"a", 100, kMaxQuantity + 1}}, {1300, false});
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, "cart.bad_quantity");
  auto max = price("CNY", {{"a", 100, kMaxQuantity}}, {1300, false});
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->subtotal, 100 * kMaxQuantity);
  auto negative = price("CNY", {{"a", 100, -1}}, {1300, false});
  EXPECT_FALSE(negative.ok());
}

TEST(PricingTest, PriceAndLineLimitsAreRefused) {
  auto negative = price("CNY", {{"a", -1, 1}}, {1300, false});
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().code, "pricing.bad_price");
  auto huge = price("CNY", {{"a", kMaxUnitPrice + 1, 1}}, {1300, false});
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code, "pricing.bad_price");
  // The largest price at the largest quantity stays inside int64 with tax.
  auto biggest = price("CNY", {{"a", kMaxUnitPrice, kMaxQuantity}}, {10000, false});
  ASSERT_TRUE(biggest.ok());
  EXPECT_EQ(biggest->total, 2 * kMaxUnitPrice * kMaxQuantity);
  std::vector<LineInput> lines(kMaxLines + 1, LineInput{"x", 1, 1});
  auto too_many = price("CNY", lines, {0, false});
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, "cart.too_many_lines");
  auto bad_rate = price("CNY", {{"a", 1, 1}}, {10001, false});
  ASSERT_FALSE(bad_rate.ok());
  EXPECT_EQ(bad_rate.error().code, "pricing.bad_tax_rate");
}

TEST(PricingTest, FormatRate) {
  EXPECT_EQ(format_rate(1300), "13%");
  EXPECT_EQ(format_rate(650), "6.5%");
  EXPECT_EQ(format_rate(25), "0.25%");
  EXPECT_EQ(format_rate(0), "0%");
  EXPECT_EQ(format_rate(10000), "100%");
  EXPECT_EQ(format_rate(905), "9.05%");
  EXPECT_EQ(format_rate(1), "0.01%");
}

}  // namespace
}  // namespace quanqu::pricing
