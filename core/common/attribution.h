// Metadata and attribution of carts and orders: bounded free-form key/values, and where a sale came from.
#pragma once

#include "common/validation.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace quanqu {

// The bounds of a `metadata` object, as stored (after a patch is applied).
inline constexpr std::size_t kMaxMetadataKeys = 50;
inline constexpr std::size_t kMaxMetadataKeyChars = 40;     // [A-Za-z0-9_.-]
inline constexpr std::size_t kMaxMetadataStringChars = 500;  // Unicode code points
inline constexpr std::size_t kMaxMetadataBytes = 8192;       // the object serialised as JSON
// A patch may name at most this many keys (set or removed with null); nothing walks a longer one.
inline constexpr std::size_t kMaxMetadataPatchKeys = 2 * kMaxMetadataKeys;
// Each field of a `source`, in Unicode code points.
inline constexpr std::size_t kMaxSourceChars = 64;

// Where a cart (and the order made from it) came from. Every field is optional; a source with none
// is no source. `plugin` is the plugin that brought the shopper (a cart a plugin creates carries its
// name, which it cannot change), `campaign` and `referral` are the storefront's or plugin's own codes.
struct Source {
  std::optional<std::string> plugin;
  std::optional<std::string> campaign;
  std::optional<std::string> referral;

  bool empty() const { return !plugin && !campaign && !referral; }
  // {"plugin": "..." | null, "campaign": ..., "referral": ...}: all three keys, always.
  nlohmann::json to_json() const;
  // From to_json() output or stored text; keys that are not strings are left out.
  static Source from_json(const nlohmann::json& j);

  bool operator==(const Source&) const = default;
};

// Whether `key` is 1..kMaxMetadataKeyChars characters of [A-Za-z0-9_.-].
bool is_metadata_key(std::string_view key);

// Checks a metadata patch (or a whole new metadata object) given under `field`: a JSON object of at
// most kMaxMetadataPatchKeys keys, each a metadata key, each value a string of at most
// kMaxMetadataStringChars characters (valid UTF-8), a number, a boolean or null (null removes the
// key). Errors name `field` or `field/<key>`; a key that is not a metadata key is named by the
// field alone (its text may be anything).
void validate_metadata_patch(Validator& v, const std::string& field, const nlohmann::json& patch);
// Checks metadata as it would be stored: at most kMaxMetadataKeys keys and kMaxMetadataBytes bytes
// serialised, errors under `field`. Run after apply_metadata_patch on a patch that passed above.
void validate_metadata_result(Validator& v, const std::string& field, const nlohmann::json& metadata);
// `current` with the keys of `patch` set, and those set to null removed. Both must be objects.
nlohmann::json apply_metadata_patch(nlohmann::json current, const nlohmann::json& patch);

// Checks each field of `source` (given under `field`): 1..kMaxSourceChars characters of valid
// UTF-8 without control characters (C0, DEL or C1), not blank.
void validate_source(Validator& v, const std::string& field, const Source& source);

// Stored text of metadata and source (TEXT columns): metadata is an object ("{}" when empty),
// source a JSON object or SQL NULL for none.
nlohmann::json metadata_from_text(const std::string& text);

}  // namespace quanqu
