// Field validators shared by every context.
#include "common/validation.h"
#include "common/money.h"

#include <algorithm>

namespace quanqu {

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : 4;
    if (extra == 4 || i + extra >= s.size() + (extra ? 0 : 1)) return false;
    for (std::size_t k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += extra + 1;
  }
  return true;
}

void Validator::text(std::string_view field, std::string_view value, std::size_t max, bool required) {
  auto first = value.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    if (required) fail(std::string(field), "must not be empty");
    return;
  }
  if (value.size() > max) return fail(std::string(field), "must be at most " + std::to_string(max) + " bytes");
  if (!is_valid_utf8(value)) return fail(std::string(field), "must be valid UTF-8");
  for (char c : value)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r')
      return fail(std::string(field), "must not contain control characters");
}

void Validator::handle(std::string_view field, std::string_view value, std::size_t max) {
  bool good = !value.empty() && value.size() <= max && value.front() != '-' && value.back() != '-';
  for (std::size_t i = 0; good && i < value.size(); ++i) {
    char c = value[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!(alnum || (c == '-' && value[i - 1] != '-'))) good = false;
  }
  if (!good)
    fail(std::string(field), "must be lower-case letters and digits joined by single hyphens, at most " +
                                 std::to_string(max) + " characters");
}

void Validator::currency(std::string_view field, std::string_view value) {
  if (!Currency::from_code(value)) fail(std::string(field), "must be a supported ISO 4217 currency code such as CNY");
}

void Validator::range(std::string_view field, std::int64_t value, std::int64_t lo, std::int64_t hi) {
  if (value < lo || value > hi)
    fail(std::string(field), "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
}

void Validator::email(std::string_view field, std::string_view value) {
  auto at = value.find('@');
  bool good = value.size() <= 254 && at != std::string_view::npos && at > 0 && value.find('@', at + 1) == std::string_view::npos &&
              value.find('.', at) != std::string_view::npos && value.back() != '.' &&
              value.find_first_of(" \t\r\n<>") == std::string_view::npos && value[at + 1] != '.';
  if (!good) fail(std::string(field), "must be an e-mail address");
}

std::string describe_field_errors(const std::vector<FieldError>& errors) {
  std::string message = "invalid input: ";
  std::size_t shown = std::min(errors.size(), kMaxReportedFieldErrors);
  for (std::size_t i = 0; i < shown; ++i) message += (i ? "; " : "") + errors[i].field + " " + errors[i].message;
  if (errors.size() > shown) message += "; and " + std::to_string(errors.size() - shown) + " more";
  return message;
}

Status Validator::status(std::string code) const {
  if (ok()) return ok_status();
  return Error::invalid(std::move(code), describe_field_errors(errors_), errors_);
}

}  // namespace quanqu
