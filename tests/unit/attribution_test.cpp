// Unit tests for metadata and source checks: key syntax, value types and lengths, the stored bounds, patches.
#include "common/attribution.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace quanqu {
namespace {

using nlohmann::json;

// The fields a check named, in order.
std::vector<std::string> fields(const Validator& v) {
  std::vector<std::string> out;
  Status s = v.status();
  if (!s.ok())
    for (const auto& e : s.error().fields) out.push_back(e.field);
  return out;
}

std::vector<std::string> patch_errors(const json& patch) {
  Validator v;
  validate_metadata_patch(v, "metadata", patch);
  return fields(v);
}

std::vector<std::string> result_errors(const json& metadata) {
  Validator v;
  validate_metadata_result(v, "metadata", metadata);
  return fields(v);
}

std::vector<std::string> source_errors(const Source& source) {
  Validator v;
  validate_source(v, "source", source);
  return fields(v);
}

using Fields = std::vector<std::string>;

TEST(MetadataKeys, AreOneToFortyCharactersOfASafeAlphabet) {
  EXPECT_TRUE(is_metadata_key("a"));
  EXPECT_TRUE(is_metadata_key("utm_source"));
  EXPECT_TRUE(is_metadata_key("erp.order-id_2"));
  EXPECT_TRUE(is_metadata_key(std::string(kMaxMetadataKeyChars, 'k')));
  EXPECT_FALSE(is_metadata_key(""));
  EXPECT_FALSE(is_metadata_key(std::string(kMaxMetadataKeyChars + 1, 'k')));
  EXPECT_FALSE(is_metadata_key("has space"));
  EXPECT_FALSE(is_metadata_key("a/b"));
  EXPECT_FALSE(is_metadata_key("$where"));
  EXPECT_FALSE(is_metadata_key("键"));
  EXPECT_FALSE(is_metadata_key(std::string("nul\0x", 5)));
}

TEST(MetadataPatch, AcceptsScalarsAndNull) {
  EXPECT_EQ(patch_errors(json::object()), Fields{});
  EXPECT_EQ(patch_errors({{"s", "text"}, {"i", 42}, {"f", 1.5}, {"neg", -7}, {"b", false}, {"gone", nullptr}}),
            Fields{});
  EXPECT_EQ(patch_errors({{"s", std::string(kMaxMetadataStringChars, 'x')}}), Fields{});
}

TEST(MetadataPatch, RefusesAnythingButAnObject) {
  EXPECT_EQ(patch_errors(json::array({1, 2})), Fields{"metadata"});
  EXPECT_EQ(patch_errors("text"), Fields{"metadata"});
  EXPECT_EQ(patch_errors(7), Fields{"metadata"});
  EXPECT_EQ(patch_errors(nullptr), Fields{"metadata"});
}

TEST(MetadataPatch, RefusesNestedValuesAtTheirKey) {
  EXPECT_EQ(patch_errors({{"ok", 1}, {"deep", {{"a", {{"b", 1}}}}}}), Fields{"metadata/deep"});
  EXPECT_EQ(patch_errors({{"list", json::array({"a", "b"})}}), Fields{"metadata/list"});
  EXPECT_EQ(patch_errors({{"empty", json::object()}}), Fields{"metadata/empty"});
}

TEST(MetadataPatch, RefusesBadKeysWithoutEchoingThem) {
  // The key itself may be anything (a path, a megabyte): the error names the field alone.
  EXPECT_EQ(patch_errors({{"a/b", 1}}), Fields{"metadata"});
  EXPECT_EQ(patch_errors({{std::string(1000, 'k'), 1}}), Fields{"metadata"});
  EXPECT_EQ(patch_errors({{"", 1}}), Fields{"metadata"});
  EXPECT_EQ(patch_errors({{"fine", 1}, {"not fine", 2}, {"也不行", 3}}), (Fields{"metadata", "metadata"}));
}

TEST(MetadataPatch, CountsCharactersNotBytes) {
  // 500 CJK characters are 1500 bytes of UTF-8, and allowed; 501 are not.
  std::string han;
  for (std::size_t i = 0; i < kMaxMetadataStringChars; ++i) han += "茶";
  EXPECT_EQ(patch_errors({{"note", han}}), Fields{});
  EXPECT_EQ(patch_errors({{"note", han + "茶"}}), Fields{"metadata/note"});
  EXPECT_EQ(patch_errors({{"note", std::string(kMaxMetadataStringChars + 1, 'x')}}), Fields{"metadata/note"});
}

TEST(MetadataPatch, RefusesInvalidUtf8) {
  EXPECT_EQ(patch_errors({{"note", std::string("\xC3\x28")}}), Fields{"metadata/note"});
}

TEST(MetadataPatch, RefusesTooManyKeysInOneRequestBeforeLookingAtThem) {
  json big = json::object();
  for (std::size_t i = 0; i <= kMaxMetadataPatchKeys; ++i) big["k" + std::to_string(i)] = json::object();
  EXPECT_EQ(patch_errors(big), Fields{"metadata"});  // one error, not one per nested value
}

TEST(MetadataResult, BoundsKeysAndSerialisedSize) {
  json fifty = json::object();
  for (std::size_t i = 0; i < kMaxMetadataKeys; ++i) fifty["k" + std::to_string(i)] = i;
  EXPECT_EQ(result_errors(fifty), Fields{});
  json fifty_one = fifty;
  fifty_one["one_more"] = true;
  EXPECT_EQ(result_errors(fifty_one), Fields{"metadata"});

  // 20 values of 500 characters are over 10 KB as JSON: each is allowed, together they are not.
  json heavy = json::object();
  for (int i = 0; i < 20; ++i) heavy["k" + std::to_string(i)] = std::string(kMaxMetadataStringChars, 'x');
  EXPECT_EQ(patch_errors(heavy), Fields{});
  EXPECT_GT(heavy.dump().size(), kMaxMetadataBytes);
  EXPECT_EQ(result_errors(heavy), Fields{"metadata"});
}

TEST(MetadataPatch, SetsKeysRemovesNullsAndKeepsTheRest) {
  json current{{"keep", 1}, {"change", "old"}, {"drop", true}};
  json merged = apply_metadata_patch(current, {{"change", "new"}, {"drop", nullptr}, {"add", 2.5}, {"absent", nullptr}});
  EXPECT_EQ(merged, (json{{"keep", 1}, {"change", "new"}, {"add", 2.5}}));
  EXPECT_EQ(apply_metadata_patch(nullptr, {{"a", 1}}), (json{{"a", 1}}));
  EXPECT_EQ(apply_metadata_patch(json::object(), json::object()), json::object());
}

TEST(Source, FieldsAreShortPrintableAndNotBlank) {
  EXPECT_EQ(source_errors(Source{}), Fields{});
  EXPECT_EQ(source_errors(Source{"social", "spring-sale", "ref_8f2k"}), Fields{});
  EXPECT_EQ(source_errors(Source{std::string(kMaxSourceChars, 'p'), "春季促销", std::nullopt}), Fields{});
  EXPECT_EQ(source_errors(Source{std::string(kMaxSourceChars + 1, 'p'), std::nullopt, std::nullopt}),
            Fields{"source/plugin"});
  EXPECT_EQ(source_errors(Source{std::nullopt, "", "   "}), (Fields{"source/campaign", "source/referral"}));
  EXPECT_EQ(source_errors(Source{std::nullopt, "tab\there", std::string("nul\0", 4)}),
            (Fields{"source/campaign", "source/referral"}));
  EXPECT_EQ(source_errors(Source{std::nullopt, "c1\xC2\x85", std::nullopt}), Fields{"source/campaign"});
  EXPECT_EQ(source_errors(Source{std::nullopt, std::nullopt, std::string("\xFF")}), Fields{"source/referral"});
}

TEST(Source, RoundTripsThroughJsonWithEveryKey) {
  Source s{"social", std::nullopt, "ref_1"};
  json j = s.to_json();
  EXPECT_EQ(j, (json{{"plugin", "social"}, {"campaign", nullptr}, {"referral", "ref_1"}}));
  EXPECT_EQ(Source::from_json(j), s);
  EXPECT_TRUE(Source::from_json(json::array()).empty());
  EXPECT_TRUE(Source::from_json({{"plugin", 7}}).empty());
}

TEST(MetadataText, ReadsAnObjectOrNothing) {
  EXPECT_EQ(metadata_from_text(""), json::object());
  EXPECT_EQ(metadata_from_text("{}"), json::object());
  EXPECT_EQ(metadata_from_text(R"({"a":1})"), (json{{"a", 1}}));
  EXPECT_EQ(metadata_from_text("[1]"), json::object());
  EXPECT_EQ(metadata_from_text("not json"), json::object());
}

}  // namespace
}  // namespace quanqu
