// Unit tests for the plugin config JSON Schema subset: schema refusals, every keyword, paths, defaults.
#include "plugins/config_schema.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace quanqu {
namespace {

using nlohmann::json;
using plugins::apply_defaults;
using plugins::check_schema;
using plugins::validate_config;

// Every violation as "field: message", in the order reported.
std::vector<std::string> violations(const json& schema, const json& value, const std::string& prefix = "config") {
  std::vector<std::string> out;
  for (const auto& v : validate_config(schema, value, prefix)) out.push_back(v.field + ": " + v.message);
  return out;
}

// Every schema problem as "pointer: message"; empty when the schema is accepted.
std::vector<std::string> schema_errors(const json& schema) {
  auto status = check_schema(schema);
  std::vector<std::string> out;
  if (status.ok()) return out;
  EXPECT_EQ(status.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(status.error().code, "plugin.invalid_config_schema");
  for (const auto& f : status.error().fields) out.push_back(f.field + ": " + f.message);
  return out;
}

using Lines = std::vector<std::string>;

// A realistic config: a shipping plugin with distance tiers.
json shipping_schema() {
  return json::parse(R"({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://plugins.example.com/shipping.json",
    "$comment": "per-channel config",
    "title": "Local delivery",
    "description": "Fees by distance",
    "type": "object",
    "required": ["webhook_secret", "tiers"],
    "additionalProperties": false,
    "properties": {
      "webhook_secret": {"type": "string", "minLength": 16, "maxLength": 128},
      "webhook_url": {"type": "string", "format": "uri"},
      "contact": {"type": "string", "format": "email"},
      "mode": {"enum": ["live", "test"], "default": "test"},
      "currency": {"const": "CNY"},
      "max_parcels": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
      "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}, "uniqueItems": true,
               "maxItems": 3},
      "tiers": {
        "type": "array", "minItems": 1,
        "items": {
          "type": "object", "required": ["max_km", "fee"], "additionalProperties": false,
          "properties": {
            "max_km": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 500},
            "fee": {"type": "integer", "minimum": 0, "multipleOf": 50}
          }
        }
      }
    }
  })");
}

// ---- check_schema ----

TEST(ConfigSchemaCheck, AcceptsEverySupportedKeyword) {
  EXPECT_EQ(schema_errors(shipping_schema()), Lines{});
  EXPECT_EQ(schema_errors(json::parse(R"({
    "type": ["string", "null"], "minLength": 0, "maxLength": 3.0, "pattern": "^a", "format": "date-time",
    "examples": ["a"], "default": null
  })")),
            Lines{});
  EXPECT_EQ(schema_errors(json::parse(R"({"type": "number", "minimum": -1.5, "maximum": 1e3, "multipleOf": 0.25})")),
            Lines{});
  EXPECT_EQ(schema_errors(json::parse(R"({"type": "array", "items": true, "minItems": 0, "uniqueItems": false})")),
            Lines{});
  EXPECT_EQ(schema_errors(json::parse(R"({"type": "object", "additionalProperties": {"type": "integer"}})")), Lines{});
}

TEST(ConfigSchemaCheck, AcceptsBooleanAndEmptySchemas) {
  EXPECT_EQ(schema_errors(json(true)), Lines{});
  EXPECT_EQ(schema_errors(json(false)), Lines{});
  EXPECT_EQ(schema_errors(json::object()), Lines{});
  EXPECT_EQ(schema_errors(json::parse(R"({"properties": {"a": true, "b": false}})")), Lines{});
}

TEST(ConfigSchemaCheck, RefusesANonSchemaRoot) {
  EXPECT_EQ(schema_errors(json(5)), Lines{": must be a schema: a JSON object, true or false"});
  EXPECT_EQ(schema_errors(json::array()), Lines{": must be a schema: a JSON object, true or false"});
  auto status = check_schema(json("object"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message, "invalid config schema: the schema must be a schema: a JSON object, true or false");
}

TEST(ConfigSchemaCheck, RefusesUnsupportedKeywordsNamingThemWithPointers) {
  auto schema = json::parse(R"({
    "$ref": "#/$defs/tier",
    "$defs": {"tier": {}},
    "properties": {"tiers": {"type": "array", "items": {"oneOf": [{"type": "string"}], "type": "object"}}}
  })");
  auto status = check_schema(schema);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(status.error().code, "plugin.invalid_config_schema");
  EXPECT_EQ(schema_errors(schema),
            (Lines{"/$defs: unsupported keyword '$defs'; the supported subset is listed in docs/sdk.md",
                   "/$ref: unsupported keyword '$ref'; the supported subset is listed in docs/sdk.md",
                   "/properties/tiers/items/oneOf: unsupported keyword 'oneOf'; the supported subset is listed in "
                   "docs/sdk.md"}));
  EXPECT_NE(status.error().message.find("/$ref unsupported keyword '$ref'"), std::string::npos);
  EXPECT_NE(status.error().message.find("/properties/tiers/items/oneOf unsupported keyword 'oneOf'"),
            std::string::npos);
}

TEST(ConfigSchemaCheck, RefusesEachCompositionAndConditionalKeyword) {
  for (const char* keyword : {"$ref",
                              "$defs",
                              "definitions",
                              "$anchor",
                              "$dynamicRef",
                              "oneOf",
                              "anyOf",
                              "allOf",
                              "not",
                              "if",
                              "then",
                              "else",
                              "patternProperties",
                              "dependentRequired",
                              "dependentSchemas",
                              "propertyNames",
                              "minProperties",
                              "maxProperties",
                              "prefixItems",
                              "contains",
                              "unevaluatedProperties",
                              "contentEncoding",
                              "dependencies",
                              "typo"}) {
    json schema = {{"type", "object"}, {"properties", {{"x", {{keyword, json::object()}}}}}};
    EXPECT_EQ(schema_errors(schema), Lines{std::string("/properties/x/") + keyword + ": unsupported keyword '" +
                                           keyword + "'; the supported subset is listed in docs/sdk.md"})
        << keyword;
  }
}

TEST(ConfigSchemaCheck, EscapesPropertyNamesInPointers) {
  json schema = {{"properties", {{"a/b~c", {{"$ref", "#"}}}}}};
  EXPECT_EQ(
      schema_errors(schema),
      Lines{"/properties/a~1b~0c/$ref: unsupported keyword '$ref'; the supported subset is listed in docs/sdk.md"});
}

TEST(ConfigSchemaCheck, RefusesMalformedTypes) {
  EXPECT_EQ(schema_errors(json::parse(R"({"type": "float"})")),
            Lines{"/type: must be one of: object, array, string, integer, number, boolean, null"});
  EXPECT_EQ(schema_errors(json::parse(R"({"type": []})")),
            Lines{"/type: must be a type name or a non-empty array of type names"});
  EXPECT_EQ(schema_errors(json::parse(R"({"type": 3})")),
            Lines{"/type: must be a type name or a non-empty array of type names"});
  EXPECT_EQ(schema_errors(json::parse(R"({"type": ["string", "int", "string"]})")),
            (Lines{"/type/1: must be one of: object, array, string, integer, number, boolean, null",
                   "/type/2: is listed twice"}));
}

TEST(ConfigSchemaCheck, RefusesMalformedObjectKeywords) {
  EXPECT_EQ(schema_errors(json::parse(R"({"properties": ["a"]})")),
            Lines{"/properties: must be an object mapping property names to schemas"});
  EXPECT_EQ(schema_errors(json::parse(R"({"properties": {"a": 5, "b": "string"}})")),
            (Lines{"/properties/a: must be a schema: a JSON object, true or false",
                   "/properties/b: must be a schema: a JSON object, true or false"}));
  EXPECT_EQ(schema_errors(json::parse(R"({"required": "a"})")), Lines{"/required: must be an array of property names"});
  EXPECT_EQ(schema_errors(json::parse(R"({"required": ["a", 1, "a"]})")),
            (Lines{"/required/1: must be a string", "/required/2: is listed twice"}));
  EXPECT_EQ(schema_errors(json::parse(R"({"additionalProperties": "no"})")),
            Lines{"/additionalProperties: must be a schema: a JSON object, true or false"});
}

TEST(ConfigSchemaCheck, RefusesMalformedArrayAndStringKeywords) {
  EXPECT_EQ(schema_errors(json::parse(R"({"items": [{"type": "string"}]})")),
            Lines{"/items: must be a schema: a JSON object, true or false"});
  for (const char* keyword : {"minItems", "maxItems", "minLength", "maxLength"}) {
    for (json bad : {json(-1), json(1.5), json("3"), json(nullptr)}) {
      EXPECT_EQ(schema_errors(json{{keyword, bad}}),
                Lines{std::string("/") + keyword + ": must be a non-negative integer"})
          << keyword << " " << bad;
    }
    EXPECT_EQ(schema_errors(json{{keyword, 2.0}}), Lines{}) << keyword;
  }
  EXPECT_EQ(schema_errors(json::parse(R"({"uniqueItems": "yes"})")), Lines{"/uniqueItems: must be true or false"});
  EXPECT_EQ(schema_errors(json::parse(R"({"format": 5})")), Lines{"/format: must be a string"});
}

TEST(ConfigSchemaCheck, RefusesMalformedValueKeywords) {
  EXPECT_EQ(schema_errors(json::parse(R"({"enum": []})")),
            Lines{"/enum: must be a non-empty array of the allowed values"});
  EXPECT_EQ(schema_errors(json::parse(R"({"enum": "a"})")),
            Lines{"/enum: must be a non-empty array of the allowed values"});
  EXPECT_EQ(schema_errors(json::parse(R"({"const": {"any": ["json"]}})")), Lines{});
  for (const char* keyword : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
    EXPECT_EQ(schema_errors(json{{keyword, "1"}}), Lines{std::string("/") + keyword + ": must be a number"});
    EXPECT_EQ(schema_errors(json{{keyword, true}}), Lines{std::string("/") + keyword + ": must be a number"})
        << "the draft-04 boolean form";
  }
  for (json bad : {json(0), json(-2), json("5")})
    EXPECT_EQ(schema_errors(json{{"multipleOf", bad}}), Lines{"/multipleOf: must be a number greater than 0"}) << bad;
}

TEST(ConfigSchemaCheck, RefusesMalformedAnnotations) {
  for (const char* keyword : {"title", "description", "$schema", "$id", "$comment"})
    EXPECT_EQ(schema_errors(json{{keyword, 1}}), Lines{std::string("/") + keyword + ": must be a string"});
  EXPECT_EQ(schema_errors(json::parse(R"({"examples": "a"})")), Lines{"/examples: must be an array"});
}

TEST(ConfigSchemaCheck, RefusesBadPatterns) {
  json schema = {{"properties", {{"code", {{"type", "string"}, {"pattern", "[a-z"}}}}}};
  auto errors = schema_errors(schema);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("/properties/code/pattern: is not a valid ECMAScript regular expression: ", 0), 0u)
      << errors[0];

  EXPECT_EQ(schema_errors(json{{"pattern", "(a)\\1"}}),
            Lines{"/pattern: is not a valid ECMAScript regular expression: back-references are not supported"});
  EXPECT_EQ(schema_errors(json{{"pattern", 7}}), Lines{"/pattern: must be a string"});
  EXPECT_EQ(schema_errors(json{{"pattern", std::string(1001, 'a')}}),
            Lines{"/pattern: must be at most 1000 bytes long"});
  EXPECT_EQ(schema_errors(json{{"pattern", std::string(1000, 'a')}}), Lines{});
  EXPECT_EQ(schema_errors(json{{"pattern", "a{2,1}"}}).size(), 1u);
  EXPECT_EQ(schema_errors(json{{"pattern", "((a{1000}){1000}){1000}"}}).size(), 1u) << "too many NFA states";
}

TEST(ConfigSchemaCheck, LimitsNestingDepth) {
  auto nested = [](int levels) {
    json schema = {{"type", "string"}};
    for (int i = 0; i < levels; ++i) schema = {{"type", "array"}, {"items", schema}};
    return schema;
  };
  EXPECT_EQ(schema_errors(nested(plugins::kMaxConfigSchemaDepth)), Lines{});
  std::string pointer;
  for (int i = 0; i <= plugins::kMaxConfigSchemaDepth; ++i) pointer += "/items";
  EXPECT_EQ(schema_errors(nested(plugins::kMaxConfigSchemaDepth + 1)),
            Lines{pointer + ": nests schemas more than 32 levels deep"});
  // A hostile schema nested far deeper is refused without walking all of it.
  EXPECT_EQ(schema_errors(nested(1000)).size(), 1u);

  json props = json::object();
  for (int i = 0; i < 40; ++i) props = {{"properties", {{"p", props}}}};
  EXPECT_EQ(schema_errors(props).size(), 1u);
}

TEST(ConfigSchemaCheck, RefusesDefaultsThatBreakTheirSchema) {
  auto schema = json::parse(R"({
    "type": "object",
    "properties": {
      "fee": {"type": "integer", "default": "free"},
      "mode": {"enum": ["live", "test"], "default": "demo"},
      "limits": {"type": "object", "properties": {"max": {"maximum": 5}}, "default": {"max": 9}},
      "ok": {"type": "integer", "minimum": 1, "default": 1}
    }
  })");
  EXPECT_EQ(schema_errors(schema),
            (Lines{"/properties/fee/default: does not satisfy its own schema: must be an integer",
                   "/properties/limits/default: does not satisfy its own schema: max must be at most 5",
                   "/properties/mode/default: does not satisfy its own schema: must be one of: live, test"}));
  // An object default whose members are wrong at the top level is caught where it sits.
  EXPECT_EQ(schema_errors(json::parse(R"({"properties": {"a": {"type": "string"}}, "default": {"a": 1}})")),
            Lines{"/default: does not satisfy its own schema: a must be a string"});
}

TEST(ConfigSchemaCheck, ReportsEveryProblemAtOnce) {
  auto schema = json::parse(R"({
    "type": "objekt",
    "required": "name",
    "properties": {
      "name": {"type": "string", "minLength": -1, "pattern": "("},
      "tiers": {"type": "array", "items": {"type": "object", "anyOf": [], "properties": {"fee": {"type": "int"}}}}
    }
  })");
  auto status = check_schema(schema);
  ASSERT_FALSE(status.ok());
  std::vector<std::string> fields;
  for (const auto& f : status.error().fields) fields.push_back(f.field);
  EXPECT_EQ(fields, (Lines{"/properties/name/minLength", "/properties/name/pattern", "/properties/tiers/items/anyOf",
                           "/properties/tiers/items/properties/fee/type", "/required", "/type"}));
  EXPECT_EQ(status.error().message.rfind("invalid config schema: /properties/name/minLength must be", 0), 0u);
}

// ---- validate_config: types ----

TEST(ConfigSchemaValidate, ChecksEachType) {
  struct Case {
    const char* type;
    json good;
    json bad;
    const char* message;
  };
  for (const auto& c : std::vector<Case>{{"object", json::object(), json::array(), "must be an object"},
                                         {"array", json::array(), json::object(), "must be an array"},
                                         {"string", "s", 1, "must be a string"},
                                         {"integer", 3, 3.5, "must be an integer"},
                                         {"number", 3.5, "3.5", "must be a number"},
                                         {"boolean", false, 0, "must be a boolean"},
                                         {"null", nullptr, false, "must be null"}}) {
    json schema = {{"type", c.type}};
    EXPECT_EQ(violations(schema, c.good), Lines{}) << c.type;
    EXPECT_EQ(violations(schema, c.bad), Lines{std::string("config: ") + c.message}) << c.type;
  }
}

TEST(ConfigSchemaValidate, IntegerAcceptsZeroFractionAndNumberAcceptsIntegers) {
  json integer = {{"type", "integer"}};
  EXPECT_EQ(violations(integer, json::parse("2.0")), Lines{});
  EXPECT_EQ(violations(integer, json::parse("-7")), Lines{});
  EXPECT_EQ(violations(integer, json::parse("18446744073709551615")), Lines{});
  EXPECT_EQ(violations(integer, json::parse("1e300")), Lines{});
  EXPECT_EQ(violations(integer, json::parse("2.5")), Lines{"config: must be an integer"});
  EXPECT_EQ(violations(integer, json::parse("true")), Lines{"config: must be an integer"});
  EXPECT_EQ(violations(json{{"type", "number"}}, json::parse("2")), Lines{});
}

TEST(ConfigSchemaValidate, TypeArraysNameEveryAlternative) {
  EXPECT_EQ(violations(json::parse(R"({"type": ["string", "null"]})"), 1), Lines{"config: must be a string or null"});
  EXPECT_EQ(violations(json::parse(R"({"type": ["string", "integer", "null"]})"), 1.5),
            Lines{"config: must be a string, an integer or null"});
  EXPECT_EQ(violations(json::parse(R"({"type": ["string", "null"]})"), nullptr), Lines{});
}

TEST(ConfigSchemaValidate, DoesNotLookInsideAValueOfTheWrongType) {
  auto schema = json::parse(R"({
    "type": "object", "required": ["a"], "additionalProperties": false,
    "properties": {"a": {}, "tiers": {"type": "array", "minItems": 2, "items": {"type": "integer"}}}
  })");
  EXPECT_EQ(violations(schema, "tiers"), Lines{"config: must be an object"});
  EXPECT_EQ(violations(schema, {{"a", 1}, {"tiers", {{"0", "x"}}}}), Lines{"config.tiers: must be an array"});
}

TEST(ConfigSchemaValidate, KeywordsForOtherTypesAreIgnoredWithoutType) {
  auto schema = json::parse(R"({"minLength": 3, "minimum": 5, "minItems": 2, "required": ["a"], "format": "uri"})");
  EXPECT_EQ(violations(schema, nullptr), Lines{});
  EXPECT_EQ(violations(schema, true), Lines{});
  EXPECT_EQ(violations(schema, "ab"),
            (Lines{"config: must be at least 3 characters long", "config: must be an https or http URL"}));
  EXPECT_EQ(violations(schema, 4), Lines{"config: must be at least 5"});
  EXPECT_EQ(violations(schema, json::array({1})), Lines{"config: must have at least 2 items"});
  EXPECT_EQ(violations(schema, json::object()), Lines{"config.a: is required"});
}

// ---- const and enum ----

TEST(ConfigSchemaValidate, ConstAndEnum) {
  EXPECT_EQ(violations(json{{"const", "CNY"}}, "CNY"), Lines{});
  EXPECT_EQ(violations(json{{"const", "CNY"}}, "USD"), Lines{"config: must be CNY"});
  EXPECT_EQ(violations(json{{"const", 1}}, 1.0), Lines{}) << "numbers compare by value";
  EXPECT_EQ(violations(json{{"const", {{"a", 1}}}}, json{{"a", 2}}), Lines{"config: must be {\"a\":1}"});

  json mode = {{"enum", {"a", "b"}}};
  EXPECT_EQ(violations(mode, "b"), Lines{});
  EXPECT_EQ(violations(mode, "c"), Lines{"config: must be one of: a, b"});
  EXPECT_EQ(violations(json::parse(R"({"enum": [1, 2.5, null, true]})"), false),
            Lines{"config: must be one of: 1, 2.5, null, true"});
  EXPECT_EQ(violations(json::parse(R"({"enum": [1, 2]})"), 2.0), Lines{});
}

TEST(ConfigSchemaValidate, AValueOutsideItsEnumGetsOnlyThatMessage) {
  auto schema = json::parse(R"({"type": "string", "enum": ["live", "test"], "maxLength": 2, "pattern": "^x"})");
  EXPECT_EQ(violations(schema, "staging"), Lines{"config: must be one of: live, test"});
}

// ---- numbers ----

TEST(ConfigSchemaValidate, InclusiveBounds) {
  json schema = {{"type", "integer"}, {"minimum", 1}, {"maximum", 100}};
  EXPECT_EQ(violations(schema, 1), Lines{});
  EXPECT_EQ(violations(schema, 100), Lines{});
  EXPECT_EQ(violations(schema, 0), Lines{"config: must be at least 1"});
  EXPECT_EQ(violations(schema, 101), Lines{"config: must be at most 100"});
  EXPECT_EQ(violations(schema, 100.0), Lines{});
  EXPECT_EQ(violations(json{{"minimum", -0.5}}, -0.75), Lines{"config: must be at least -0.5"});
}

TEST(ConfigSchemaValidate, ExclusiveBounds) {
  json schema = {{"exclusiveMinimum", 0}, {"exclusiveMaximum", 2.5}};
  EXPECT_EQ(violations(schema, 0.001), Lines{});
  EXPECT_EQ(violations(schema, 2.499), Lines{});
  EXPECT_EQ(violations(schema, 0), Lines{"config: must be greater than 0"});
  EXPECT_EQ(violations(schema, -3), Lines{"config: must be greater than 0"});
  EXPECT_EQ(violations(schema, 2.5), Lines{"config: must be less than 2.5"});
}

TEST(ConfigSchemaValidate, BoundsAreExactForLargeIntegers) {
  json schema = {{"maximum", json::parse("9223372036854775806")}};
  EXPECT_EQ(violations(schema, json::parse("9223372036854775806")), Lines{});
  EXPECT_EQ(violations(schema, json::parse("9223372036854775807")),
            Lines{"config: must be at most 9223372036854775806"});
  EXPECT_EQ(violations(json{{"minimum", 0}}, json::parse("18446744073709551615")), Lines{});
  EXPECT_EQ(violations(json{{"maximum", -1}}, json::parse("-9223372036854775808")), Lines{});
}

TEST(ConfigSchemaValidate, MultipleOf) {
  EXPECT_EQ(violations(json{{"multipleOf", 50}}, 150), Lines{});
  EXPECT_EQ(violations(json{{"multipleOf", 50}}, -100), Lines{});
  EXPECT_EQ(violations(json{{"multipleOf", 50}}, 0), Lines{});
  EXPECT_EQ(violations(json{{"multipleOf", 50}}, 120), Lines{"config: must be a multiple of 50"});
  EXPECT_EQ(violations(json{{"multipleOf", 1.5}}, 4.5), Lines{});
  EXPECT_EQ(violations(json{{"multipleOf", 1.5}}, 35), Lines{"config: must be a multiple of 1.5"});
  EXPECT_EQ(violations(json{{"multipleOf", 0.1}}, 0.3), Lines{}) << "0.3 / 0.1 is not exactly 3 in binary";
  EXPECT_EQ(violations(json{{"multipleOf", 0.01}}, 12345678.91), Lines{});
  EXPECT_EQ(violations(json{{"multipleOf", 0.0001}}, 0.0075), Lines{});
  EXPECT_EQ(violations(json{{"multipleOf", 0.0001}}, 0.00751), Lines{"config: must be a multiple of 0.0001"});
  EXPECT_EQ(violations(json{{"multipleOf", 0.5}}, json::parse("1e308")), Lines{});
  EXPECT_EQ(violations(json{{"multipleOf", 0.123456789}}, json::parse("1e308")),
            Lines{"config: must be a multiple of 0.123456789"});
  EXPECT_EQ(violations(json{{"multipleOf", 641}}, json::parse("18446744073709551615")), Lines{});
  EXPECT_EQ(violations(json{{"multipleOf", 2}}, json::parse("18446744073709551615")),
            Lines{"config: must be a multiple of 2"});
}

// ---- strings ----

TEST(ConfigSchemaValidate, LengthsCountCodePoints) {
  json schema = {{"type", "string"}, {"minLength", 2}, {"maxLength", 3}};
  EXPECT_EQ(violations(schema, "日本語"), Lines{}) << "9 bytes, 3 code points";
  EXPECT_EQ(violations(schema, "😀😀"), Lines{}) << "8 bytes, 2 code points";
  EXPECT_EQ(violations(schema, "日本語です"), Lines{"config: must be at most 3 characters long"});
  EXPECT_EQ(violations(schema, "é"), Lines{"config: must be at least 2 characters long"});
  EXPECT_EQ(violations(json{{"maxLength", 1}}, "ab"), Lines{"config: must be at most 1 character long"});
  EXPECT_EQ(violations(json{{"minLength", 1}}, ""), Lines{"config: must not be empty"});
  EXPECT_EQ(violations(json{{"maxLength", 0}}, ""), Lines{});
}

TEST(ConfigSchemaValidate, PatternSearchesUnanchored) {
  EXPECT_EQ(violations(json{{"pattern", "b"}}, "abc"), Lines{});
  EXPECT_EQ(violations(json{{"pattern", "^[a-z]+$"}}, "abc"), Lines{});
  EXPECT_EQ(violations(json{{"pattern", "^[a-z]+$"}}, "ab-c"), Lines{"config: must match the pattern ^[a-z]+$"});
  EXPECT_EQ(violations(json{{"pattern", "^(?=.*\\d)[a-z0-9]+$"}}, "abc"),
            Lines{"config: must match the pattern ^(?=.*\\d)[a-z0-9]+$"});
  EXPECT_EQ(violations(json{{"pattern", "^(?:é)+$"}}, "éé"), Lines{});
}

TEST(ConfigSchemaValidate, PatternsSurviveHostileInput) {
  // The backtracking executor would overflow the stack on the first and take exponential time on the second.
  EXPECT_EQ(violations(json{{"pattern", "^(a|b)*$"}}, std::string(200000, 'a')), Lines{});
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(violations(json{{"pattern", "^(a+)+b$"}}, std::string(5000, 'a')),
            Lines{"config: must match the pattern ^(a+)+b$"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ConfigSchemaValidate, AnInvalidPatternInAnUncheckedSchemaIsAViolationNotAnException) {
  EXPECT_EQ(violations(json{{"pattern", "[a-"}}, "a"),
            Lines{"config: cannot be checked: the plugin's config schema has an invalid pattern"});
  EXPECT_EQ(violations(json{{"pattern", std::string(1001, 'a')}}, "a"),
            Lines{"config: cannot be checked: the plugin's config schema has an invalid pattern"});
}

TEST(ConfigSchemaValidate, FormatUri) {
  json schema = {{"type", "string"}, {"format", "uri"}};
  for (const char* good :
       {"https://example.com", "http://example.com:8080/hooks?x=1&y=%20#top", "HTTPS://Example.COM",
        "https://[::1]:8443/x", "https://user:pw@shop.example.cn/", "http://127.0.0.1", "https://a.b/c;d=e,f"})
    EXPECT_EQ(violations(schema, good), Lines{}) << good;
  for (const char* bad : {"ftp://example.com", "https://", "https:///path", "https://:80/", "example.com",
                          "//example.com", "https://exa mple.com", "javascript:alert(1)", "https://host:99999",
                          "https://host:", "https://host:8a", "http://例子.com", "https://a.com/%zz", "https://[::1/",
                          "https://host]/", "https://a.com/<script>", " https://a.com", ""})
    EXPECT_EQ(violations(schema, bad), Lines{"config: must be an https or http URL"}) << bad;
}

TEST(ConfigSchemaValidate, FormatEmailAndUnknownFormats) {
  json email = {{"format", "email"}};
  EXPECT_EQ(violations(email, "ops@shop.example.cn"), Lines{});
  for (const char* bad : {"ops", "ops@shop", "@shop.cn", "ops@@shop.cn", "o ps@shop.cn", "ops@.cn", "ops@shop.cn."})
    EXPECT_EQ(violations(email, bad), Lines{"config: must be an e-mail address"}) << bad;
  EXPECT_EQ(violations(json{{"format", "date-time"}}, "not a date"), Lines{});
  EXPECT_EQ(violations(json{{"format", "uri"}}, 42), Lines{}) << "formats apply to strings only";
}

// ---- arrays ----

TEST(ConfigSchemaValidate, ItemCounts) {
  json schema = {{"type", "array"}, {"minItems", 2}, {"maxItems", 3}};
  EXPECT_EQ(violations(schema, json::array({1, 2})), Lines{});
  EXPECT_EQ(violations(schema, json::array({1})), Lines{"config: must have at least 2 items"});
  EXPECT_EQ(violations(schema, json::array({1, 2, 3, 4})), Lines{"config: must have at most 3 items"});
  EXPECT_EQ(violations(json{{"maxItems", 1}}, json::array({1, 2})), Lines{"config: must have at most 1 item"});
  EXPECT_EQ(violations(json{{"minItems", 1}}, json::array()), Lines{"config: must not be empty"});
}

TEST(ConfigSchemaValidate, UniqueItems) {
  json schema = {{"uniqueItems", true}};
  EXPECT_EQ(violations(schema, json::array({1, 2, "1", true, nullptr})), Lines{});
  EXPECT_EQ(violations(schema, json::array({1, 2, 1})),
            Lines{"config: must not contain duplicates (items 0 and 2 are equal)"});
  EXPECT_EQ(violations(schema, json::parse("[1, 1.0]")),
            Lines{"config: must not contain duplicates (items 0 and 1 are equal)"});
  EXPECT_EQ(violations(schema, json::parse(R"([{"a": [1]}, {"b": 2}, {"a": [1]}])")),
            Lines{"config: must not contain duplicates (items 0 and 2 are equal)"});
  EXPECT_EQ(violations(schema, json::parse(R"(["z", "b", "a", "b", "z"])")),
            Lines{"config: must not contain duplicates (items 1 and 3 are equal)"})
      << "the first repeat in array order";
  EXPECT_EQ(violations(json{{"uniqueItems", false}}, json::array({1, 1})), Lines{});

  json many = json::array();
  for (int i = 0; i < 20000; ++i) many.push_back(i);
  EXPECT_EQ(violations(schema, many), Lines{});
  many.push_back(19999);
  EXPECT_EQ(violations(schema, many), Lines{"config: must not contain duplicates (items 19999 and 20000 are equal)"});
}

TEST(ConfigSchemaValidate, ItemsAreCheckedAtTheirIndex) {
  json schema = {{"type", "array"}, {"items", {{"type", "integer"}, {"minimum", 0}}}};
  EXPECT_EQ(violations(schema, json::parse(R"([1, "2", -3, 4])")),
            (Lines{"config[1]: must be an integer", "config[2]: must be at least 0"}));
  EXPECT_EQ(violations(json{{"items", false}}, json::array({1})), Lines{"config[0]: is not allowed"});
  EXPECT_EQ(violations(json{{"items", false}}, json::array()), Lines{});
}

// ---- objects ----

TEST(ConfigSchemaValidate, RequiredIsReportedAtTheMissingProperty) {
  json schema = {{"type", "object"}, {"required", {"webhook_secret", "api_key"}}};
  EXPECT_EQ(violations(schema, {{"api_key", "k"}}), Lines{"config.webhook_secret: is required"});
  EXPECT_EQ(violations(schema, json::object()),
            (Lines{"config.webhook_secret: is required", "config.api_key: is required"}));
  EXPECT_EQ(violations(schema, {{"webhook_secret", nullptr}, {"api_key", false}}), Lines{}) << "present is present";
}

TEST(ConfigSchemaValidate, AdditionalProperties) {
  json closed = {{"properties", {{"a", {{"type", "integer"}}}}}, {"additionalProperties", false}};
  EXPECT_EQ(violations(closed, {{"a", 1}}), Lines{});
  EXPECT_EQ(violations(closed, {{"a", 1}, {"b", 2}, {"c", 3}}),
            (Lines{"config.b: is not an allowed property", "config.c: is not an allowed property"}));

  json typed = {{"properties", {{"a", {{"type", "string"}}}}}, {"additionalProperties", {{"type", "integer"}}}};
  EXPECT_EQ(violations(typed, {{"a", "x"}, {"b", 2}}), Lines{});
  EXPECT_EQ(violations(typed, {{"a", 1}, {"b", "x"}}),
            (Lines{"config.a: must be a string", "config.b: must be an integer"}));
  EXPECT_EQ(violations(json{{"additionalProperties", true}}, {{"z", 1}}), Lines{});
  EXPECT_EQ(violations(json::object(), {{"z", 1}}), Lines{});
}

TEST(ConfigSchemaValidate, AFalsePropertySchemaForbidsThatProperty) {
  json schema = {{"properties", {{"legacy", false}}}};
  EXPECT_EQ(violations(schema, json::object()), Lines{});
  EXPECT_EQ(violations(schema, {{"legacy", 1}}), Lines{"config.legacy: is not allowed"});
  EXPECT_EQ(violations(json(false), 1), Lines{"config: is not allowed"});
  EXPECT_EQ(violations(json(true), 1), Lines{});
}

TEST(ConfigSchemaValidate, PathsQuoteAmbiguousNamesAndHonourThePrefix) {
  json schema = {{"additionalProperties", {{"type", "integer"}}}};
  EXPECT_EQ(violations(schema, {{"a.b", "x"}}), Lines{"config[\"a.b\"]: must be an integer"});
  EXPECT_EQ(violations(schema, {{"x y", "x"}}), Lines{"config[\"x y\"]: must be an integer"});
  EXPECT_EQ(violations(schema, {{"", "x"}}), Lines{"config[\"\"]: must be an integer"});
  EXPECT_EQ(violations(schema, {{"名称", "x"}}), Lines{"config.名称: must be an integer"});
  EXPECT_EQ(violations(schema, {{"max_km-2", "x"}}), Lines{"config.max_km-2: must be an integer"});
  EXPECT_EQ(violations(schema, {{"fee", "x"}}, "channels[2].plugins.shipping"),
            Lines{"channels[2].plugins.shipping.fee: must be an integer"});
  EXPECT_EQ(violations(schema, {{"fee", "x"}}, ""), Lines{"fee: must be an integer"});
  EXPECT_EQ(violations(json{{"items", {{"type", "integer"}}}}, json::array({"x"}), ""),
            Lines{"[0]: must be an integer"});
}

// ---- everything together ----

TEST(ConfigSchemaValidate, AValidConfigHasNoViolations) {
  auto config = json::parse(R"({
    "webhook_secret": "0123456789abcdef",
    "webhook_url": "https://hooks.example.com/quanqu",
    "contact": "ops@example.com",
    "mode": "live",
    "currency": "CNY",
    "max_parcels": 20,
    "tags": ["fresh", "local"],
    "tiers": [{"max_km": 5, "fee": 0}, {"max_km": 12.5, "fee": 650}]
  })");
  EXPECT_EQ(violations(shipping_schema(), config), Lines{});
}

TEST(ConfigSchemaValidate, ReportsEveryViolationWithNestedPaths) {
  auto config = json::parse(R"({
    "webhook_secret": "short",
    "webhook_url": "ftp://hooks.example.com",
    "contact": "ops",
    "mode": "staging",
    "currency": "USD",
    "max_parcels": 250.5,
    "tags": ["fresh", "Fresh!", "fresh", "a", "b"],
    "tiers": [{"max_km": 0, "fee": 620}, {"fee": "free"}, {"max_km": 501, "fee": -50, "note": "x"}, 7],
    "debug": true
  })");
  EXPECT_EQ(violations(shipping_schema(), config),
            (Lines{"config.contact: must be an e-mail address", "config.currency: must be CNY",
                   "config.debug: is not an allowed property", "config.max_parcels: must be an integer",
                   "config.mode: must be one of: live, test", "config.tags: must have at most 3 items",
                   "config.tags: must not contain duplicates (items 0 and 2 are equal)",
                   "config.tags[1]: must match the pattern ^[a-z]+$", "config.tiers[0].fee: must be a multiple of 50",
                   "config.tiers[0].max_km: must be greater than 0", "config.tiers[1].max_km: is required",
                   "config.tiers[1].fee: must be an integer", "config.tiers[2].fee: must be at least 0",
                   "config.tiers[2].max_km: must be less than 500", "config.tiers[2].note: is not an allowed property",
                   "config.tiers[3]: must be an object", "config.webhook_secret: must be at least 16 characters long",
                   "config.webhook_url: must be an https or http URL"}));
  EXPECT_EQ(violations(shipping_schema(), json::object()),
            (Lines{"config.webhook_secret: is required", "config.tiers: is required"}));
}

TEST(ConfigSchemaValidate, ReturnsViolationsAsStructs) {
  auto found = validate_config(json{{"required", {"a"}}}, json::object(), "cfg");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], (plugins::ConfigViolation{"cfg.a", "is required"}));
}

TEST(ConfigSchemaValidate, DepthIsLimitedEvenForAnUncheckedSchema) {
  json schema = {{"type", "integer"}};
  json value = 1;
  for (int i = 0; i < 200; ++i) {
    schema = {{"items", schema}};
    value = json::array({value});
  }
  auto found = validate_config(schema, value);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].message, "is nested too deeply to be checked");
  EXPECT_EQ(found[0].field.rfind("config[0][0]", 0), 0u);
}

TEST(ConfigSchemaValidate, ToleratesMalformedKeywordsInAnUncheckedSchema) {
  auto schema = json::parse(R"({"type": 5, "minimum": "1", "required": "a", "properties": [1], "minLength": -2,
                                "enum": "x", "items": 3, "uniqueItems": "yes", "multipleOf": 0})");
  EXPECT_EQ(violations(schema, 0), Lines{});
  EXPECT_EQ(violations(schema, "s"), Lines{});
  EXPECT_EQ(violations(schema, json::array({1, 1})), Lines{});
  EXPECT_EQ(violations(schema, json::object()), Lines{});
}

// ---- apply_defaults ----

TEST(ConfigSchemaDefaults, FillsAbsentPropertiesOnly) {
  auto filled = apply_defaults(shipping_schema(), json{{"mode", "live"}, {"max_parcels", nullptr}});
  EXPECT_EQ(filled, (json{{"mode", "live"}, {"max_parcels", nullptr}}));
  filled = apply_defaults(shipping_schema(), json::object());
  EXPECT_EQ(filled, (json{{"mode", "test"}, {"max_parcels", 10}}));
}

TEST(ConfigSchemaDefaults, RecursesThroughObjects) {
  auto schema = json::parse(R"({
    "type": "object",
    "properties": {
      "pickup": {"type": "object", "properties": {"enabled": {"default": false}, "hours": {"default": "9-17"}}},
      "limits": {"type": "object", "default": {}, "properties": {"max": {"default": 5}}},
      "absent": {"type": "object", "properties": {"x": {"default": 1}}},
      "tiers": {"type": "array", "items": {"type": "object", "properties": {"fee": {"default": 0}}}}
    }
  })");
  auto filled = apply_defaults(schema, json::parse(R"({"pickup": {"hours": "8-20"}, "tiers": [{}]})"));
  EXPECT_EQ(filled, json::parse(R"({
    "pickup": {"enabled": false, "hours": "8-20"},
    "limits": {"max": 5},
    "tiers": [{}]
  })"))
      << "arrays are not entered and objects without a default are not created";
}

TEST(ConfigSchemaDefaults, FillsInsideAdditionalProperties) {
  auto schema = json::parse(R"({
    "properties": {"known": {"type": "object"}},
    "additionalProperties": {"type": "object", "properties": {"fee": {"default": 100}}}
  })");
  EXPECT_EQ(apply_defaults(schema, json::parse(R"({"known": {}, "zone-a": {}, "zone-b": {"fee": 5}})")),
            json::parse(R"({"known": {}, "zone-a": {"fee": 100}, "zone-b": {"fee": 5}})"));
}

TEST(ConfigSchemaDefaults, LeavesNonObjectsAlone) {
  json schema = {{"properties", {{"a", {{"default", 1}}}}}};
  EXPECT_EQ(apply_defaults(schema, nullptr), json(nullptr));
  EXPECT_EQ(apply_defaults(schema, json::array()), json::array());
  EXPECT_EQ(apply_defaults(json(true), json::object()), json::object());
}

TEST(ConfigSchemaDefaults, DefaultsCanSatisfyRequired) {
  json schema = {{"type", "object"}, {"required", {"mode"}}, {"properties", {{"mode", {{"default", "test"}}}}}};
  ASSERT_TRUE(check_schema(schema).ok());
  EXPECT_EQ(violations(schema, json::object()), Lines{"config.mode: is required"});
  EXPECT_EQ(violations(schema, apply_defaults(schema, json::object())), Lines{});
}

TEST(ConfigSchemaDefaults, DepthIsLimited) {
  json schema = {{"default", 1}};
  for (int i = 0; i < 100; ++i) schema = {{"properties", {{"p", schema}}}, {"default", json::object()}};
  json filled = apply_defaults(schema, json::object());
  int depth = 0;
  for (const json* at = &filled; at->is_object() && at->contains("p"); at = &at->at("p")) ++depth;
  EXPECT_EQ(depth, plugins::kMaxConfigSchemaDepth + 1);
}

}  // namespace
}  // namespace quanqu
