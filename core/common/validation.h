// Field validation for domain inputs: collects every offending field, then fails once.
#pragma once

#include "common/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu {

class Validator {
 public:
  // Non-empty after trimming, at most `max` bytes, valid UTF-8 without control characters.
  void text(std::string_view field, std::string_view value, std::size_t max, bool required = true);
  // Lower-case slug: [a-z0-9] groups joined by single '-', 1..max characters.
  void handle(std::string_view field, std::string_view value, std::size_t max = 120);
  // An upper-case ISO 4217 code the engine knows.
  void currency(std::string_view field, std::string_view value);
  // `lo <= value <= hi`.
  void range(std::string_view field, std::int64_t value, std::int64_t lo, std::int64_t hi);
  // A plausible e-mail address (one '@', a dot in the domain, no spaces), at most 254 bytes.
  void email(std::string_view field, std::string_view value);
  void fail(std::string field, std::string message) { errors_.push_back({std::move(field), std::move(message)}); }

  bool ok() const { return errors_.empty(); }
  // An invalid_argument error with code `code` listing every field, or ok.
  Status status(std::string code = "validation_failed") const;

 private:
  std::vector<FieldError> errors_;
};

bool is_valid_utf8(std::string_view s);

// How many field errors one reply lists; a problem names how many more there were
// (`errors_truncated`) instead of listing them.
inline constexpr std::size_t kMaxReportedFieldErrors = 100;

// "invalid input: <field> <message>; ..." for the first kMaxReportedFieldErrors errors, then
// "; and N more".
std::string describe_field_errors(const std::vector<FieldError>& errors);

}  // namespace quanqu
