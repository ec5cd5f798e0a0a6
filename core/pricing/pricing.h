// Pricing: line and cart totals in integer minor units, with tax, each total explained.
#pragma once

#include "common/result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace quanqu::pricing {

struct TaxPolicy {
  std::int32_t rate_bp = 0;  // basis points: 1300 = 13 %
  bool inclusive = false;    // unit prices already contain the tax
};

struct LineInput {
  std::string key;  // the caller's line id, echoed back
  std::int64_t unit_price = 0;
  std::int64_t quantity = 0;
};

struct PricedLine {
  std::string key;
  std::int64_t unit_price = 0;
  std::int64_t quantity = 0;
  std::int64_t subtotal = 0;  // unit_price * quantity
  std::int64_t tax = 0;       // tax on this line, rounded half up per line
  std::int64_t total = 0;     // what the shopper pays for the line
};

// One line of the explanation of a total. Lines with `included` true are informational
// (the amount is already part of another line, as inclusive tax is); the others add up to the total.
struct Explanation {
  std::string kind;   // subtotal, tax, shipping, discount
  std::string label;  // "Tax 13% (included)"
  std::int64_t amount = 0;
  bool included = false;
};

struct Totals {
  std::string currency;
  std::int64_t subtotal = 0;
  std::int64_t discount_total = 0;
  std::int64_t shipping_total = 0;
  std::int64_t tax_total = 0;
  std::int64_t total = 0;
  TaxPolicy tax;
  std::vector<PricedLine> lines;
  std::vector<Explanation> explanation;
};

// Limits that keep every sum far inside int64.
inline constexpr std::int64_t kMaxQuantity = 10'000;
inline constexpr std::int64_t kMaxUnitPrice = 1'000'000'000'000;
inline constexpr std::size_t kMaxLines = 200;

// Prices the lines. Tax is computed and rounded per line (half away from zero), then summed.
// Exclusive: total = subtotal + tax. Inclusive: total = subtotal, tax is the part it contains.
// A quantity outside 1..kMaxQuantity, a negative or too large unit price, or too many lines is
// an invalid_argument error.
Result<Totals> price(const std::string& currency, const std::vector<LineInput>& lines, const TaxPolicy& tax);

// Adds a shipping charge (minor units, not taxed) to priced totals: shipping_total, total and
// the "shipping" explanation line. A negative or too large amount is an invalid_argument error.
Status add_shipping(Totals& totals, std::int64_t amount, const std::string& label);

// "13%", "6.5%", "0.25%".
std::string format_rate(std::int32_t rate_bp);

}  // namespace quanqu::pricing
