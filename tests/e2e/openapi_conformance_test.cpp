// End to end: the check every test's replies go through (support/openapi_conformance.h) catches drift.
#include "support/fixture.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace {

using nlohmann::json;
using quanqu::e2e::Exchange;
using quanqu::e2e::OpenApiConformance;

class OpenApiConformanceTest : public E2ETest {
 protected:
  static std::vector<std::string> check(const Exchange& e) { return OpenApiConformance::shared().check(e); }

  static std::string joined(const std::vector<std::string>& violations) {
    std::string out;
    for (const auto& v : violations) out += v + "\n";
    return out;
  }

  // A real reply of the server, to start from.
  Exchange exchange(const std::string& target) {
    Exchange e{"GET", target, store().get(target)};
    EXPECT_EQ(e.response.status, 200u) << e.response.body;
    return e;
  }
};

TEST_F(OpenApiConformanceTest, RealRepliesConform) {
  for (std::string target :
       {"/v1/store/products?limit=3", "/v1/store/products/organic-cotton-tee", "/v1/store/categories"}) {
    auto e = exchange(target);
    EXPECT_TRUE(check(e).empty()) << target << ":\n" << joined(check(e));
  }
}

TEST_F(OpenApiConformanceTest, AnUndeclaredFieldAMissingFieldOrAWrongTypeIsCaught) {
  auto real = exchange("/v1/store/products/organic-cotton-tee");
  json body = real.response.json();

  Exchange extra = real;
  json with_extra = body;
  with_extra["variants"][0]["surprise"] = 1;  // nested, inside an array
  extra.response.body = with_extra.dump();
  auto v = check(extra);
  ASSERT_FALSE(v.empty());
  EXPECT_NE(joined(v).find("surprise"), std::string::npos) << joined(v);

  Exchange missing = real;
  json without_id = body;
  without_id.erase("id");
  missing.response.body = without_id.dump();
  EXPECT_FALSE(check(missing).empty());

  Exchange wrong_type = real;
  json string_quantity = body;
  string_quantity["variants"][0]["available_quantity"] = "3";
  wrong_type.response.body = string_quantity.dump();
  EXPECT_FALSE(check(wrong_type).empty());

  Exchange not_json = real;
  not_json.response.body = "{";
  EXPECT_FALSE(check(not_json).empty());
}

TEST_F(OpenApiConformanceTest, AnUndeclaredStatusOrContentTypeIsCaught) {
  auto real = exchange("/v1/store/categories");

  Exchange server_error = real;
  server_error.response.status = 500;
  server_error.response.headers["content-type"] = "application/problem+json";
  server_error.response.body =
      R"({"type":"about:blank","title":"Internal Server Error","status":500,"detail":"x","code":"internal"})";
  auto v = check(server_error);
  ASSERT_FALSE(v.empty());
  EXPECT_NE(joined(v).find("status 500 is not declared"), std::string::npos) << joined(v);

  Exchange text = real;
  text.response.headers["content-type"] = "text/plain";
  EXPECT_FALSE(check(text).empty());

  Exchange no_request_id = real;
  no_request_id.response.headers.erase("x-request-id");
  EXPECT_FALSE(check(no_request_id).empty());
}

TEST_F(OpenApiConformanceTest, UnknownPathsAndOtherMethodsAreCheckedAsTheRouterAnswersThem) {
  Exchange unknown{"GET", "/v1/store/nowhere", store().get("/v1/store/nowhere")};
  EXPECT_EQ(unknown.response.status, 404u);
  EXPECT_TRUE(check(unknown).empty()) << joined(check(unknown));
  Exchange unknown_ok = unknown;
  unknown_ok.response.status = 200;
  EXPECT_FALSE(check(unknown_ok).empty());

  Exchange other{"DELETE", "/v1/store/categories", store().del("/v1/store/categories")};
  EXPECT_EQ(other.response.status, 405u);
  EXPECT_TRUE(check(other).empty()) << joined(check(other));
  Exchange without_allow = other;
  without_allow.response.headers.erase("allow");
  EXPECT_FALSE(check(without_allow).empty());

  // HEAD is the GET operation without a body.
  Exchange head{"HEAD", "/v1/store/categories", store().request("HEAD", "/v1/store/categories")};
  EXPECT_TRUE(check(head).empty()) << joined(check(head));
}

}  // namespace
