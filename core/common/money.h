// Money: an integer count of minor units plus an ISO 4217 currency; checked arithmetic only.
#pragma once

#include "common/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quanqu {

// An ISO 4217 currency the engine knows, with the exponent of its minor unit.
class Currency {
 public:
  // Returns the currency for an upper-case three-letter code, or nothing if unknown.
  static std::optional<Currency> from_code(std::string_view code);

  const std::string& code() const { return code_; }
  int minor_unit_digits() const { return digits_; }
  bool operator==(const Currency& o) const { return code_ == o.code_; }

 private:
  Currency(std::string code, int digits) : code_(std::move(code)), digits_(digits) {}
  std::string code_;
  int digits_;
};

struct Money {
  std::int64_t amount = 0;  // minor units (fen, cents); may be negative for adjustments
  std::string currency;     // ISO 4217 code, validated where it enters the system

  bool operator==(const Money&) const = default;
};

// Checked arithmetic: mismatched currencies or int64 overflow are errors, never wrap.
Result<Money> add(const Money& a, const Money& b);
Result<Money> subtract(const Money& a, const Money& b);
Result<Money> multiply(const Money& a, std::int64_t factor);

// Tax on an amount at a rate in basis points (1/100 of a percent), rounded half away from zero.
// exclusive: tax to add on top of `net`. inclusive: the tax part contained in `gross`.
std::int64_t tax_exclusive_round_half_up(std::int64_t net, std::int32_t rate_bp);
std::int64_t tax_inclusive_round_half_up(std::int64_t gross, std::int32_t rate_bp);

}  // namespace quanqu
