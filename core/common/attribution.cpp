// Metadata and source checks shared by carts, orders and every route that sets them.
#include "common/attribution.h"

namespace quanqu {
namespace {

using nlohmann::json;

// Unicode code points of valid UTF-8 text (continuation bytes are not counted).
std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

// C0 controls, DEL, and C1 controls (U+0080..U+009F, encoded C2 80..C2 9F).
bool has_control(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9F)
      return true;
  }
  return false;
}

void check_source_field(Validator& v, const std::string& field, const std::optional<std::string>& value) {
  if (!value) return;
  const std::string& s = *value;
  if (s.find_first_not_of(' ') == std::string::npos) return v.fail(field, "must not be empty");
  if (!is_valid_utf8(s)) return v.fail(field, "must be valid UTF-8");
  if (code_points(s) > kMaxSourceChars)
    return v.fail(field, "must be at most " + std::to_string(kMaxSourceChars) + " characters");
  if (has_control(s)) return v.fail(field, "must be printable text without control characters");
}

}  // namespace

json Source::to_json() const {
  auto value = [](const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); };
  return {{"plugin", value(plugin)}, {"campaign", value(campaign)}, {"referral", value(referral)}};
}

Source Source::from_json(const json& j) {
  Source s;
  if (!j.is_object()) return s;
  auto read = [&](const char* key, std::optional<std::string>& out) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string()) out = it->get<std::string>();
  };
  read("plugin", s.plugin);
  read("campaign", s.campaign);
  read("referral", s.referral);
  return s;
}

bool is_metadata_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxMetadataKeyChars) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

void validate_metadata_patch(Validator& v, const std::string& field, const json& patch) {
  if (!patch.is_object()) return v.fail(field, "must be an object");
  if (patch.size() > kMaxMetadataPatchKeys)
    return v.fail(field, "must have at most " + std::to_string(kMaxMetadataPatchKeys) + " keys in one request");
  for (const auto& [key, value] : patch.items()) {
    if (!is_metadata_key(key)) {
      v.fail(field, "keys must be 1 to " + std::to_string(kMaxMetadataKeyChars) +
                        " characters of A-Z, a-z, 0-9, '_', '.' and '-'");
      continue;
    }
    std::string at = field + "/" + key;
    if (value.is_string()) {
      const auto& s = value.get_ref<const std::string&>();
      if (!is_valid_utf8(s))
        v.fail(at, "must be valid UTF-8");
      else if (code_points(s) > kMaxMetadataStringChars)
        v.fail(at, "must be at most " + std::to_string(kMaxMetadataStringChars) + " characters");
    } else if (!value.is_number() && !value.is_boolean() && !value.is_null()) {
      v.fail(at, "must be a string, a number, a boolean or null (no objects or arrays)");
    }
  }
}

void validate_metadata_result(Validator& v, const std::string& field, const json& metadata) {
  if (metadata.size() > kMaxMetadataKeys)
    return v.fail(field, "may hold at most " + std::to_string(kMaxMetadataKeys) + " keys (it would hold " +
                             std::to_string(metadata.size()) + ")");
  if (std::size_t bytes = metadata.dump().size(); bytes > kMaxMetadataBytes)
    v.fail(field, "may be at most " + std::to_string(kMaxMetadataBytes) + " bytes as JSON (it would be " +
                      std::to_string(bytes) + ")");
}

json apply_metadata_patch(json current, const json& patch) {
  if (!current.is_object()) current = json::object();
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null())
      current.erase(key);
    else
      current[key] = value;
  }
  return current;
}

void validate_source(Validator& v, const std::string& field, const Source& source) {
  check_source_field(v, field + "/plugin", source.plugin);
  check_source_field(v, field + "/campaign", source.campaign);
  check_source_field(v, field + "/referral", source.referral);
}

json metadata_from_text(const std::string& text) {
  if (text.empty()) return json::object();
  json parsed = json::parse(text, nullptr, false);
  return parsed.is_object() ? parsed : json::object();
}

}  // namespace quanqu
