// Money arithmetic and the table of ISO 4217 currencies the engine accepts.
#include "common/money.h"

#include <array>
#include <utility>

namespace quanqu {
namespace {

struct CurrencyRow {
  std::string_view code;
  int digits;
};

// Currencies in common use for commerce; the minor-unit exponents are ISO 4217's.
constexpr std::array<CurrencyRow, 36> kCurrencies{{
    {"AED", 2}, {"AUD", 2}, {"BRL", 2}, {"CAD", 2}, {"CHF", 2}, {"CNY", 2}, {"CZK", 2},
    {"DKK", 2}, {"EUR", 2}, {"GBP", 2}, {"HKD", 2}, {"HUF", 2}, {"IDR", 2}, {"ILS", 2},
    {"INR", 2}, {"JPY", 0}, {"KRW", 0}, {"KWD", 3}, {"MOP", 2}, {"MXN", 2}, {"MYR", 2},
    {"NOK", 2}, {"NZD", 2}, {"PHP", 2}, {"PLN", 2}, {"SAR", 2}, {"SEK", 2}, {"SGD", 2},
    {"THB", 2}, {"TRY", 2}, {"TWD", 2}, {"USD", 2}, {"VND", 0}, {"ZAR", 2}, {"BHD", 3},
    {"CLP", 0},
}};

Error currency_mismatch(const Money& a, const Money& b) {
  return Error::invalid("money.currency_mismatch",
                        "cannot combine " + a.currency + " with " + b.currency);
}
Error overflow() { return Error::invalid("money.overflow", "amount out of range"); }

std::int64_t div_round_half_up(__int128 num, __int128 den) {
  // den > 0. Rounds half away from zero.
  __int128 q = num / den;
  __int128 r = num % den;
  if (r < 0) r = -r;
  if (2 * r >= den) q += (num < 0 ? -1 : 1);
  return static_cast<std::int64_t>(q);
}

}  // namespace

std::optional<Currency> Currency::from_code(std::string_view code) {
  for (const auto& row : kCurrencies)
    if (row.code == code) return Currency(std::string(row.code), row.digits);
  return std::nullopt;
}

Result<Money> add(const Money& a, const Money& b) {
  if (a.currency != b.currency) return currency_mismatch(a, b);
  std::int64_t out;
  if (__builtin_add_overflow(a.amount, b.amount, &out)) return overflow();
  return Money{out, a.currency};
}

Result<Money> subtract(const Money& a, const Money& b) {
  if (a.currency != b.currency) return currency_mismatch(a, b);
  std::int64_t out;
  if (__builtin_sub_overflow(a.amount, b.amount, &out)) return overflow();
  return Money{out, a.currency};
}

Result<Money> multiply(const Money& a, std::int64_t factor) {
  std::int64_t out;
  if (__builtin_mul_overflow(a.amount, factor, &out)) return overflow();
  return Money{out, a.currency};
}

std::int64_t tax_exclusive_round_half_up(std::int64_t net, std::int32_t rate_bp) {
  return div_round_half_up(static_cast<__int128>(net) * rate_bp, 10000);
}

std::int64_t tax_inclusive_round_half_up(std::int64_t gross, std::int32_t rate_bp) {
  return div_round_half_up(static_cast<__int128>(gross) * rate_bp, 10000 + rate_bp);
}

}  // namespace quanqu
