// Totals arithmetic: per-line tax rounding and the explanation of every total.
#include "pricing/pricing.h"
#include "common/money.h"

namespace quanqu::pricing {

std::string format_rate(std::int32_t rate_bp) {
  std::string out = std::to_string(rate_bp / 100);
  int frac = rate_bp % 100;
  if (frac) {
    out += '.';
    out += std::to_string(frac / 10);
    if (frac % 10) out += std::to_string(frac % 10);
  }
  return out + "%";
}

Result<Totals> price(const std::string& currency, const std::vector<LineInput>& lines, const TaxPolicy& tax) {
  if (lines.size() > kMaxLines)
    return Error::invalid("cart.too_many_lines", "at most " + std::to_string(kMaxLines) + " lines");
  if (tax.rate_bp < 0 || tax.rate_bp > 10000) return Error::invalid("pricing.bad_tax_rate", "tax rate out of range");
  Totals t;
  t.currency = currency;
  t.tax = tax;
  std::int64_t units = 0;
  for (const auto& in : lines) {
    if (in.quantity < 1 || in.quantity > kMaxQuantity)
      return Error::invalid("cart.bad_quantity", "quantity must be between 1 and " + std::to_string(kMaxQuantity));
    if (in.unit_price < 0 || in.unit_price > kMaxUnitPrice)
      return Error::invalid("pricing.bad_price", "unit price out of range");
    PricedLine l{in.key, in.unit_price, in.quantity, in.unit_price * in.quantity, 0, 0};
    if (tax.inclusive) {
      l.tax = tax_inclusive_round_half_up(l.subtotal, tax.rate_bp);
      l.total = l.subtotal;
    } else {
      l.tax = tax_exclusive_round_half_up(l.subtotal, tax.rate_bp);
      l.total = l.subtotal + l.tax;
    }
    t.subtotal += l.subtotal;
    t.tax_total += l.tax;
    t.total += l.total;
    units += l.quantity;
    t.lines.push_back(std::move(l));
  }
  t.explanation.push_back({"subtotal", std::to_string(units) + (units == 1 ? " item" : " items"), t.subtotal, false});
  t.explanation.push_back({"shipping", "Shipping", t.shipping_total, false});
  std::string rate = format_rate(tax.rate_bp);
  if (tax.inclusive)
    t.explanation.push_back({"tax", "Tax " + rate + " (included in prices)", t.tax_total, true});
  else
    t.explanation.push_back({"tax", "Tax " + rate, t.tax_total, false});
  return t;
}

Status add_shipping(Totals& t, std::int64_t amount, const std::string& label) {
  if (amount < 0 || amount > kMaxUnitPrice) return Error::invalid("pricing.bad_shipping", "shipping amount out of range");
  t.shipping_total = amount;
  t.total += amount;
  for (auto& e : t.explanation)
    if (e.kind == "shipping") {
      e.amount = amount;
      e.label = label.empty() ? "Shipping" : label;
    }
  return ok_status();
}

}  // namespace quanqu::pricing
