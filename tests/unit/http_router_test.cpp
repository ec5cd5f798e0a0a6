// Tests of the router: pattern matching, params, 404/405 problems, duplicates and throwing handlers.
#include "http/router.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace quanqu::http {
namespace {

using nlohmann::json;

Request make(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

Handler returns(std::string name) {
  return [name](Request& r) {
    json params = json::object();
    for (const auto& [k, v] : r.params) params[k] = v;
    return Response::json(200, {{"handler", name}, {"params", params}});
  };
}

json body(const Response& r) { return json::parse(r.body); }

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add("GET", "/v1/store/products", returns("list"));
    router_.add("GET", "/v1/store/products/{id}", returns("get"));
    router_.add("GET", "/v1/store/products/search", returns("search"));
    router_.add("PATCH", "/v1/admin/products/{id}", returns("patch"));
    router_.add("DELETE", "/v1/admin/products/{id}", returns("delete"));
    router_.add("POST", "/v1/store/carts/{cart}/lines/{line}", returns("line"));
  }
  Router router_;
};

TEST_F(RouterTest, ExactRoute) {
  auto req = make("GET", "/v1/store/products");
  auto r = router_.dispatch(req);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(body(r)["handler"], "list");
  EXPECT_EQ(req.route, "/v1/store/products");
}

TEST_F(RouterTest, PlaceholdersFillParamsAndRoute) {
  auto req = make("POST", "/v1/store/carts/c_1/lines/l_2");
  auto r = router_.dispatch(req);
  EXPECT_EQ(body(r)["handler"], "line");
  EXPECT_EQ(req.param("cart"), "c_1");
  EXPECT_EQ(req.param("line"), "l_2");
  EXPECT_EQ(req.route, "/v1/store/carts/{cart}/lines/{line}");
}

TEST_F(RouterTest, ExactSegmentWinsOverPlaceholder) {
  auto search = make("GET", "/v1/store/products/search");
  EXPECT_EQ(body(router_.dispatch(search))["handler"], "search");
  auto one = make("GET", "/v1/store/products/p_1");
  auto r = router_.dispatch(one);
  EXPECT_EQ(body(r)["handler"], "get");
  EXPECT_EQ(body(r)["params"]["id"], "p_1");
}

TEST_F(RouterTest, EmptySegmentsAreKeptSoTheyMatchNothing) {
  auto root = make("GET", "/");
  EXPECT_EQ(router_.dispatch(root).status, 404u);
  auto trailing = make("GET", "/v1/store/products/");
  EXPECT_EQ(router_.dispatch(trailing).status, 404u);
  auto empty_param = make("POST", "/v1/store/carts//lines/l_2");  // never a cart route
  EXPECT_EQ(router_.dispatch(empty_param).status, 404u);
  EXPECT_TRUE(empty_param.params.empty());
}

TEST_F(RouterTest, RootRoute) {
  router_.add("GET", "/", returns("root"));
  auto req = make("GET", "/");
  EXPECT_EQ(body(router_.dispatch(req))["handler"], "root");
  EXPECT_EQ(req.route, "/");
}

TEST_F(RouterTest, UnknownPathIs404Problem) {
  auto req = make("GET", "/v1/nothing");
  auto r = router_.dispatch(req);
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_EQ(body(r)["code"], "route_not_found");
  EXPECT_EQ(body(r)["status"], 404);
  EXPECT_TRUE(req.route.empty());
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  auto req = make("PUT", "/v1/admin/products/p_1");
  auto r = router_.dispatch(req);
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(body(r)["code"], "method_not_allowed");
  std::string allow;
  for (const auto& [k, v] : r.headers)
    if (k == "Allow") allow = v;
  EXPECT_EQ(allow, "PATCH, DELETE");
  EXPECT_TRUE(req.route.empty());
}

TEST_F(RouterTest, HeadIsServedByTheGetRoute) {
  auto req = make("HEAD", "/v1/store/products/p_1");
  auto r = router_.dispatch(req);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(body(r)["handler"], "get");
  EXPECT_EQ(req.route, "/v1/store/products/{id}");
  EXPECT_EQ(req.method, "HEAD");  // the server drops the body for it
  auto search = make("HEAD", "/v1/store/products/search");
  EXPECT_EQ(body(router_.dispatch(search))["handler"], "search");
}

TEST_F(RouterTest, AHeadRouteWinsOverTheGetRoute) {
  router_.add("HEAD", "/v1/store/products/{id}", returns("head"));
  auto req = make("HEAD", "/v1/store/products/p_1");
  EXPECT_EQ(body(router_.dispatch(req))["handler"], "head");
  // Even over a GET route with fewer placeholders.
  auto search = make("HEAD", "/v1/store/products/search");
  EXPECT_EQ(body(router_.dispatch(search))["handler"], "head");
}

TEST_F(RouterTest, HeadWithoutGetIs405AndAllowListsHeadBesideGet) {
  auto head = make("HEAD", "/v1/admin/products/p_1");
  EXPECT_EQ(router_.dispatch(head).status, 405u);
  auto put = make("PUT", "/v1/store/products");
  auto r = router_.dispatch(put);
  EXPECT_EQ(r.status, 405u);
  std::string allow;
  for (const auto& [k, v] : r.headers)
    if (k == "Allow") allow = v;
  EXPECT_EQ(allow, "GET, HEAD");
}

TEST_F(RouterTest, MethodsAreCaseSensitive) {
  auto req = make("get", "/v1/store/products");
  EXPECT_EQ(router_.dispatch(req).status, 405u);
}

TEST_F(RouterTest, DuplicateRouteIsALogicError) {
  EXPECT_THROW(router_.add("GET", "/v1/store/products", returns("again")), std::logic_error);
  EXPECT_NO_THROW(router_.add("POST", "/v1/store/products", returns("create")));
}

TEST_F(RouterTest, ThrowingHandlerPropagatesToTheServer) {
  // The server, not the router, turns exceptions into a logged 500 (see http_server_test).
  router_.add("GET", "/boom", [](Request&) -> Response { throw std::runtime_error("kaput"); });
  auto req = make("GET", "/boom");
  EXPECT_THROW(router_.dispatch(req), std::runtime_error);
}

TEST_F(RouterTest, RoutesAreListedInRegistrationOrder) {
  auto routes = router_.routes();
  ASSERT_EQ(routes.size(), 6u);
  EXPECT_EQ(routes[0].method, "GET");
  EXPECT_EQ(routes[0].pattern, "/v1/store/products");
  EXPECT_EQ(routes[5].method, "POST");
  EXPECT_EQ(routes[5].pattern, "/v1/store/carts/{cart}/lines/{line}");
}

}  // namespace
}  // namespace quanqu::http
