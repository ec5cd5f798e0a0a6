// A JSON Schema subset (draft 2020-12) for plugin per-channel config: schema checks, validation, defaults.
#pragma once

#include "common/result.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace quanqu::plugins {

// The deepest nesting of schemas (properties, items, additionalProperties) a schema may have.
inline constexpr int kMaxConfigSchemaDepth = 32;
// The longest "pattern" a schema may have, in bytes.
inline constexpr std::size_t kMaxConfigSchemaPatternBytes = 1000;

// Checks that `schema` is a JSON Schema (an object, or true/false) that uses only the supported
// keywords with well-formed values, nests at most kMaxConfigSchemaDepth schemas deep, and whose
// every "default" satisfies the schema it sits in. The supported keywords (docs/sdk.md):
//   type (a name or an array of names: object, array, string, integer, number, boolean, null),
//   properties, required, additionalProperties (true/false or a schema), items (one schema),
//   minItems, maxItems, uniqueItems, minLength, maxLength, pattern, format, enum, const,
//   minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers), multipleOf, and the
//   annotations title, description, default, examples, $schema, $id, $comment and writeOnly
//   (true marks a secret: see redact_config).
// Anything else ($ref, oneOf, anyOf, allOf, not, if/then/else, patternProperties, ...) is refused.
// "pattern" is an ECMAScript regular expression (std::regex) without back-references, at most
// kMaxConfigSchemaPatternBytes long; it is not anchored and matches the UTF-8 bytes, so a
// quantifier after a non-ASCII character needs a group: "^(?:é)+$".
// Errors are invalid_argument "plugin.invalid_config_schema" with one FieldError per problem whose
// field is a JSON pointer into the schema ("/properties/tiers/items/type"; "" is the whole schema).
Status check_schema(const nlohmann::json& schema);

// One way a config value breaks its schema, in words for a merchant.
struct ConfigViolation {
  std::string field;    // dotted path from the caller's prefix: "config.tiers[1].max_km", "config[\"a.b\"]"
  std::string message;  // "must be an integer", "is required", "must be at most 100", ...

  bool operator==(const ConfigViolation&) const = default;
};

// Validates `value` against `schema`, which check_schema accepted, and returns every violation
// (empty when valid). Semantics are draft 2020-12's for the supported keywords, with these choices:
//   - "integer" accepts JSON integers and numbers with a zero fraction (2.0);
//   - minLength/maxLength count Unicode code points;
//   - format "uri" requires an http or https URL with a host, "email" a plausible address;
//     other formats are annotations;
//   - a value of the wrong type, or outside const/enum, gets only that message: nothing inside it
//     is checked;
//   - a missing required property is reported at its own path ("config.webhook_secret").
// Defaults are not applied here; call apply_defaults first when they should count.
std::vector<ConfigViolation> validate_config(const nlohmann::json& schema, const nlohmann::json& value,
                                             const std::string& prefix = "config");

// Returns `value` with the "default" of every property its schema's "properties" declare but the
// object lacks, recursively through objects (a default that is an object is filled in too).
// Arrays are not entered; a `value` that is not an object is returned unchanged.
nlohmann::json apply_defaults(const nlohmann::json& schema, nlohmann::json value);

// Returns `value` with every property whose schema says "writeOnly": true (an API key, a webhook
// secret) replaced by "********", recursively through objects: what an admin reply shows.
nlohmann::json redact_config(const nlohmann::json& schema, nlohmann::json value);

// For an update: `given` with every writeOnly property that it omits, or sends back as the
// redacted "********", taken from `stored` (so a client that echoes what it read, or leaves a
// secret out, does not erase or overwrite it). Recursive through objects.
nlohmann::json keep_secrets(const nlohmann::json& schema, nlohmann::json given, const nlohmann::json& stored);

}  // namespace quanqu::plugins
