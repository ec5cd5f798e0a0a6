// Unit tests of request body parsing: what JSON allows and the API refuses, and bounded lists.
#include "routes/json_body.h"
#include "http/problem.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace quanqu::api {
namespace {

using nlohmann::json;

// The parse error's code and its one named field ("" when none).
std::pair<std::string, std::string> refusal(std::string_view text) {
  auto r = JsonBody::parse_text(text);
  if (r.ok()) return {"ok", ""};
  return {r.error().code, r.error().fields.empty() ? "" : r.error().fields[0].field};
}

http::Request with_body(std::string body, std::vector<std::pair<std::string, std::string>> headers) {
  http::Request r;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(JsonBody, ParsesObjectsAndReadsBlankAsEmpty) {
  auto r = JsonBody::parse_text(R"({"a": [1, {"b": "c"}], "d": -0, "e": 1.5})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->doc(), json::parse(R"({"a": [1, {"b": "c"}], "d": 0, "e": 1.5})"));
  auto blank = JsonBody::parse_text(" \n");
  ASSERT_TRUE(blank.ok());
  EXPECT_EQ(blank->doc(), json::object());
}

TEST(JsonBody, OverflowNamesTheKeyPath) {
  EXPECT_EQ(refusal(R"({"a": 1e400})"), std::make_pair(std::string("invalid_json"), std::string("a")));
  EXPECT_EQ(refusal(R"({"a": [1, {"b": -1e99999}]})"),
            std::make_pair(std::string("invalid_json"), std::string("a/1/b")));
  EXPECT_EQ(refusal(R"({"a": [[1], [2, 1e400]]})"), std::make_pair(std::string("invalid_json"), std::string("a/1/1")));
  EXPECT_EQ(refusal("1e400").first, "invalid_json");
}

TEST(JsonBody, DepthIsBounded) {
  auto nest = [](std::size_t n) { return std::string(n, '[') + std::string(n, ']'); };
  EXPECT_EQ(refusal("{\"a\":" + nest(JsonBody::kMaxDepth - 1) + "}").first, "ok");
  EXPECT_EQ(refusal("{\"a\":" + nest(JsonBody::kMaxDepth) + "}").first, "invalid_json");
  EXPECT_EQ(refusal(std::string(1'000'000, '[')).first, "invalid_json");
}

TEST(JsonBody, DuplicateKeysNulAndBadUtf8AreRefused) {
  EXPECT_EQ(refusal(R"({"a": 1, "a": 1})"), std::make_pair(std::string("invalid_json"), std::string("a")));
  EXPECT_EQ(refusal(R"({"a": {"b": 1, "c": 2, "b": 3}})"),
            std::make_pair(std::string("invalid_json"), std::string("a/b")));
  EXPECT_EQ(refusal(R"({"a": [{"x": 1}, {"x": 1}]})").first, "ok");  // the same key in two objects
  EXPECT_EQ(refusal(R"({"a": "x\u0000"})"), std::make_pair(std::string("invalid_json"), std::string("a")));
  EXPECT_EQ(refusal(R"({"a\u0000": 1})").first, "invalid_json");
  EXPECT_EQ(refusal("{\"a\": \"\xff\"}").first, "invalid_json");
  EXPECT_EQ(refusal(R"({"a": "\ud800"})").first, "invalid_json");
  EXPECT_EQ(refusal("[]").first, "invalid_json");
  // The message never carries the offending bytes back.
  auto r = JsonBody::parse_text("{\"a\": \"\xff\xfe\"}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find('\xff'), std::string::npos) << r.error().message;
}

TEST(JsonBody, OnlyJsonMediaTypesAreAccepted) {
  auto code = [](std::vector<std::pair<std::string, std::string>> headers) {
    auto r = JsonBody::parse(with_body("{}", std::move(headers)));
    return r.ok() ? std::string("ok") : r.error().code;
  };
  EXPECT_EQ(code({{"content-type", "application/json"}}), "ok");
  EXPECT_EQ(code({{"content-type", " Application/JSON ; charset=utf-8"}}), "ok");
  EXPECT_EQ(code({{"content-type", "application/merge-patch+json"}}), "ok");
  EXPECT_EQ(code({}), "unsupported_media_type");
  EXPECT_EQ(code({{"content-type", "text/plain"}}), "unsupported_media_type");
  EXPECT_EQ(code({{"content-type", "application/+json"}}), "unsupported_media_type");
  EXPECT_EQ(code({{"content-type", "text/x+json"}}), "unsupported_media_type");
  EXPECT_EQ(http::problem(Error::invalid("unsupported_media_type", "x")).status, 415u);
  // No body needs no type.
  EXPECT_TRUE(JsonBody::parse(with_body("", {})).ok());
}

TEST(JsonFields, ListsAreBoundedAndRepeatsReportedOnce) {
  json doc{{"ids", std::vector<std::string>(10, "x")}};
  std::vector<FieldError> errors;
  JsonFields f(doc, "", errors);
  EXPECT_FALSE(f.strings("ids", 5));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "ids");
  errors.clear();
  EXPECT_FALSE(f.strings("ids", 10));
  ASSERT_EQ(errors.size(), 1u);  // nine repeats of one value: one error
  EXPECT_EQ(errors[0].field, "ids/1");
  errors.clear();
  json distinct{{"ids", {"a", "b", "a", "c", "b", "a"}}};
  JsonFields g(distinct, "", errors);
  EXPECT_FALSE(g.strings("ids", 10));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].field, "ids/2");
  EXPECT_EQ(errors[1].field, "ids/4");
}

TEST(Problem, FieldErrorsAreCappedWithACount) {
  std::vector<FieldError> fields;
  for (int i = 0; i < 250; ++i) fields.push_back({"f" + std::to_string(i), "bad"});
  auto r = http::problem(Error::invalid("validation_failed", describe_field_errors(fields), fields));
  json body = json::parse(r.body);
  EXPECT_EQ(body["errors"].size(), kMaxReportedFieldErrors);
  EXPECT_EQ(body["errors_truncated"], 150);
  EXPECT_NE(body["detail"].get<std::string>().find("; and 150 more"), std::string::npos);
  EXPECT_EQ(body["detail"].get<std::string>().find("f100 "), std::string::npos);
}

}  // namespace
}  // namespace quanqu::api
