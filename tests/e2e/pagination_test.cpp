// End to end: cursor pagination of the store catalog and admin orders, search and category
// filters, and what the store may and may not see.
#include "support/fixture.h"
#include "support/problem_assertions.h"
#include "support/shopper.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;
using quanqu::e2e::IsProblem;


::testing::AssertionResult ListsField(const HttpResponse& r, const std::string& field) {
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array())
    return ::testing::AssertionFailure() << "no 'errors' array: " << r.body;
  for (const auto& e : j["errors"])
    if (e.value("field", "") == field) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << field << "' not in errors: " << r.body;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

using quanqu::e2e::kAddress;

// The number of products the demo seed publishes to 'web' (the server logs "products":60).
constexpr std::size_t kDemoProducts = 60;

class PaginationTest : public E2ETest {
 protected:
  struct Walk {
    std::vector<json> items;
    std::vector<std::size_t> page_sizes;
    bool ok = true;
  };

  // Follows next_cursor from the first page to the last; `base` already has its query string.
  Walk walk(HttpClient& client, const std::string& base, int max_pages = 100) {
    Walk w;
    std::string cursor;
    for (int page = 0; page < max_pages; ++page) {
      std::string sep = base.find('?') == std::string::npos ? "?" : "&";
      auto r = client.get(base + (cursor.empty() ? "" : sep + "cursor=" + cursor));
      EXPECT_EQ(r.status, 200u) << r.body;
      if (r.status != 200) {
        w.ok = false;
        return w;
      }
      const json body = r.json();
      EXPECT_TRUE(body.contains("items") && body["items"].is_array()) << r.body;
      EXPECT_TRUE(body.contains("next_cursor")) << r.body;
      for (const auto& i : body["items"]) w.items.push_back(i);
      w.page_sizes.push_back(body["items"].size());
      if (body["next_cursor"].is_null()) return w;
      EXPECT_TRUE(body["next_cursor"].is_string()) << r.body;
      std::string next = body["next_cursor"];
      EXPECT_NE(next, cursor) << "the cursor did not move";
      if (next == cursor) break;
      cursor = next;
    }
    ADD_FAILURE() << "no last page after " << max_pages << " pages of " << base;
    w.ok = false;
    return w;
  }

  std::set<std::string> ids(const std::vector<json>& items) {
    std::set<std::string> out;
    for (const auto& i : items) out.insert(i["id"].get<std::string>());
    return out;
  }

  std::map<std::string, json> categories() {
    auto r = store().get("/v1/store/categories");
    EXPECT_EQ(r.status, 200u) << r.body;
    std::map<std::string, json> by_handle;
    const json items = r.json()["items"];
    for (const auto& c : items) by_handle[c["handle"]] = c;
    return by_handle;
  }

  std::string place_order(int n) {
    auto cart = store().post("/v1/store/carts", {{"email", "o" + std::to_string(n) + "@example.cn"},
                                                 {"shipping_address", kAddress},
                                                 {"items", {{{"sku", "TEE-ORGANIC-NAVY-M"}, {"quantity", 1}}}}});
    EXPECT_EQ(cart.status, 201u) << cart.body;
    auto r = store().request("POST", "/v1/store/carts/" + cart.json()["id"].get<std::string>() + "/checkout",
                             std::string("{}"), {{"Idempotency-Key", "page-" + std::to_string(n)}});
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("id", "");
  }
};

TEST_F(PaginationTest, WalkingTheCatalogVisitsEveryProductOnce) {
  Walk w = walk(store(), "/v1/store/products?limit=7");
  ASSERT_TRUE(w.ok);
  std::set<std::string> seen = ids(w.items);
  EXPECT_EQ(seen.size(), w.items.size()) << "a product was served twice";
  EXPECT_EQ(w.items.size(), kDemoProducts);
  // Every page but the last is full; the last is not empty unless the total divides evenly.
  ASSERT_FALSE(w.page_sizes.empty());
  for (std::size_t i = 0; i + 1 < w.page_sizes.size(); ++i) EXPECT_EQ(w.page_sizes[i], 7u) << "page " << i;
  EXPECT_LE(w.page_sizes.back(), 7u);
  EXPECT_EQ(w.page_sizes.size(), (kDemoProducts + 6) / 7);

  // The same set whatever the page size, and the same as the admin's published products.
  Walk big = walk(store(), "/v1/store/products?limit=100");
  ASSERT_TRUE(big.ok);
  EXPECT_EQ(big.page_sizes.size(), 1u);
  EXPECT_EQ(ids(big.items), seen);
  Walk deflt = walk(store(), "/v1/store/products");
  ASSERT_TRUE(deflt.ok);
  EXPECT_EQ(deflt.page_sizes.front(), 20u) << "the default page size is 20";
  EXPECT_EQ(ids(deflt.items), seen);
  Walk one = walk(store(), "/v1/store/products?limit=1", 200);
  EXPECT_EQ(ids(one.items), seen);
  Walk admin_walk = walk(admin(), "/v1/admin/products?limit=13&status=published");
  ASSERT_TRUE(admin_walk.ok);
  EXPECT_EQ(ids(admin_walk.items), seen);

  // Every product carries its variants with CNY prices.
  std::size_t variants = 0;
  for (const auto& p : w.items) {
    EXPECT_FALSE(p["variants"].empty()) << p["handle"];
    for (const auto& v : p["variants"]) {
      ++variants;
      EXPECT_EQ(v["price"]["currency"], "CNY") << v["sku"];
    }
  }
  EXPECT_EQ(variants, 209u);
}

TEST_F(PaginationTest, BadPageParametersAre400) {
  for (std::string limit : {"0", "101", "abc", "-1", "", "7abc", "1.5", "99999999999999999999"}) {
    SCOPED_TRACE("limit=" + limit);
    auto r = store().get("/v1/store/products?limit=" + limit);
    EXPECT_TRUE(IsProblem(r, 400, "invalid_query"));
    EXPECT_TRUE(ListsField(r, "limit"));
    auto a = admin().get("/v1/admin/orders?limit=" + limit);
    EXPECT_TRUE(IsProblem(a, 400, "invalid_query"));
    auto p = admin().get("/v1/admin/products?limit=" + limit);
    EXPECT_TRUE(IsProblem(p, 400, "invalid_query"));
  }
  EXPECT_EQ(store().get("/v1/store/products?limit=1").status, 200u);
  EXPECT_EQ(store().get("/v1/store/products?limit=100").status, 200u);

  for (std::string cursor : {"garbage", "prod_", "order_01a20a3e32efe9143e28fff204dd0c9833cd929843dd",
                             "prod_zz", "'%20OR%201=1--"}) {
    SCOPED_TRACE("cursor=" + cursor);
    auto r = store().get("/v1/store/products?limit=5&cursor=" + cursor);
    EXPECT_TRUE(IsProblem(r, 400, "invalid_query"));
    EXPECT_TRUE(ListsField(r, "cursor"));
  }
  auto orders = admin().get("/v1/admin/orders?cursor=prod_01a20a3e32efe9143e28fff204dd0c9833cd929843dd");
  EXPECT_TRUE(IsProblem(orders, 400, "invalid_query"));
  EXPECT_TRUE(ListsField(orders, "cursor"));
  auto status = admin().get("/v1/admin/orders?status=fulfilled");
  EXPECT_TRUE(IsProblem(status, 400, "invalid_query"));
  EXPECT_TRUE(ListsField(status, "status"));
  auto pstatus = admin().get("/v1/admin/products?status=deleted");
  EXPECT_TRUE(IsProblem(pstatus, 400, "invalid_query"));
  EXPECT_TRUE(ListsField(pstatus, "status"));
  auto long_q = store().get("/v1/store/products?q=" + std::string(201, 'a'));
  EXPECT_TRUE(IsProblem(long_q, 400, "invalid_query"));
  EXPECT_TRUE(ListsField(long_q, "q"));
}

TEST_F(PaginationTest, SearchMatchesTitlesCaseInsensitively) {
  Walk all = walk(store(), "/v1/store/products?limit=100");
  ASSERT_TRUE(all.ok);
  for (std::string q : {"tee", "TEE", "Tee", "mug", "organic cotton", "zzz-nothing"}) {
    SCOPED_TRACE("q=" + q);
    std::set<std::string> expected;
    for (const auto& p : all.items)
      if (lower(p["title"].get<std::string>()).find(lower(q)) != std::string::npos) expected.insert(p["id"]);
    std::string encoded;
    for (char c : q) encoded += c == ' ' ? std::string("%20") : std::string(1, c);
    Walk w = walk(store(), "/v1/store/products?limit=3&q=" + encoded);
    ASSERT_TRUE(w.ok);
    EXPECT_EQ(ids(w.items), expected);
    EXPECT_EQ(ids(w.items).size(), w.items.size());
    if (q == "tee") {
      EXPECT_GE(expected.size(), 10u);
    }
    if (q == "zzz-nothing") {
      EXPECT_TRUE(w.items.empty());
    }
  }
  // LIKE wildcards are literal characters in a search.
  for (std::string q : {"%25", "_", "%25tee", "t_e"}) {
    SCOPED_TRACE("q=" + q);
    auto r = store().get("/v1/store/products?q=" + q);
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_TRUE(r.json()["items"].empty()) << r.body.substr(0, 300);
  }
}

TEST_F(PaginationTest, CategoryFilterIncludesDescendants) {
  auto cats = categories();
  ASSERT_TRUE(cats.count("apparel") && cats.count("t-shirts") && cats.count("hoodies") && cats.count("trousers"));
  Walk all = walk(store(), "/v1/store/products?limit=100");
  ASSERT_TRUE(all.ok);

  // Leaf categories by handle and by id: exactly the products tagged with them.
  std::set<std::string> children_union;
  for (std::string leaf : {"t-shirts", "hoodies", "trousers"}) {
    SCOPED_TRACE(leaf);
    std::string id = cats[leaf]["id"];
    EXPECT_EQ(cats[leaf]["parent_id"], cats["apparel"]["id"]);
    std::set<std::string> expected;
    for (const auto& p : all.items)
      for (const auto& c : p["category_ids"])
        if (c == id) expected.insert(p["id"]);
    EXPECT_FALSE(expected.empty());
    Walk by_handle = walk(store(), "/v1/store/products?limit=4&category=" + leaf);
    Walk by_id = walk(store(), "/v1/store/products?limit=4&category=" + id);
    EXPECT_EQ(ids(by_handle.items), expected);
    EXPECT_EQ(ids(by_id.items), expected);
    children_union.insert(expected.begin(), expected.end());
  }
  // The parent returns its children's products (none are tagged with the parent itself).
  Walk parent = walk(store(), "/v1/store/products?limit=5&category=apparel");
  ASSERT_TRUE(parent.ok);
  EXPECT_EQ(ids(parent.items), children_union);
  EXPECT_EQ(ids(parent.items).size(), parent.items.size());
  // Search and category combine.
  Walk tees = walk(store(), "/v1/store/products?category=apparel&q=tee");
  for (const auto& p : tees.items) {
    EXPECT_TRUE(children_union.count(p["id"]));
    EXPECT_NE(lower(p["title"].get<std::string>()).find("tee"), std::string::npos);
  }
  EXPECT_FALSE(tees.items.empty());
  // Another top-level category shares nothing with apparel; an unknown one matches nothing.
  Walk shoes = walk(store(), "/v1/store/products?limit=50&category=shoes");
  EXPECT_FALSE(shoes.items.empty());
  for (const auto& id : ids(shoes.items)) EXPECT_FALSE(children_union.count(id));
  auto none = store().get("/v1/store/products?category=no-such-category");
  ASSERT_EQ(none.status, 200u);
  EXPECT_TRUE(none.json()["items"].empty());

  // A grandchild: a new category under t-shirts, with a new product, shows up under apparel.
  auto sub = admin().post("/v1/admin/categories", {{"handle", "tank-tops"}, {"name", "Tank tops"},
                                                    {"parent_id", cats["t-shirts"]["id"]}});
  ASSERT_EQ(sub.status, 201u) << sub.body;
  auto prod = admin().post("/v1/admin/products", {{"handle", "ribbed-tank"}, {"title", "Ribbed Tank"}, {"status", "published"},
                                                   {"category_ids", {sub.json()["id"]}},
                                                   {"variants", {{{"sku", "TANK-1"}, {"title", "M"},
                                                                  {"prices", {{{"amount", 5900}, {"currency", "CNY"}}}}}}}});
  ASSERT_EQ(prod.status, 201u) << prod.body;
  std::string pid = prod.json()["id"];
  auto web = admin().get("/v1/admin/channels/web");
  ASSERT_EQ(web.status, 200u);
  ASSERT_EQ(admin().post("/v1/admin/channels/" + web.json()["id"].get<std::string>() + "/publish",
                         {{"product_ids", {pid}}}).status, 200u);
  for (std::string c : {"tank-tops", "t-shirts", "apparel"}) {
    SCOPED_TRACE(c);
    Walk w = walk(store(), "/v1/store/products?limit=100&category=" + c);
    EXPECT_TRUE(ids(w.items).count(pid));
  }
  Walk home = walk(store(), "/v1/store/products?limit=100&category=home");
  EXPECT_FALSE(ids(home.items).count(pid));
}

TEST_F(PaginationTest, AdminOrdersPageNewestFirst) {
  std::vector<std::string> placed;
  for (int i = 0; i < 5; ++i) {
    placed.push_back(place_order(i));
    // Order ids carry a millisecond timestamp; keep the orders in distinct milliseconds.
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  ASSERT_FALSE(HasFailure());

  Walk w = walk(admin(), "/v1/admin/orders?limit=2");
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.page_sizes, (std::vector<std::size_t>{2, 2, 1}));
  std::vector<std::string> listed;
  for (const auto& o : w.items) listed.push_back(o["id"]);
  std::vector<std::string> newest_first(placed.rbegin(), placed.rend());
  EXPECT_EQ(listed, newest_first);
  // Order numbers descend too.
  for (std::size_t i = 1; i < w.items.size(); ++i)
    EXPECT_GT(w.items[i - 1]["number"].get<std::int64_t>(), w.items[i]["number"].get<std::int64_t>());

  // Exactly a page's worth: the last full page has next_cursor null or leads to an empty page.
  Walk five = walk(admin(), "/v1/admin/orders?limit=5");
  EXPECT_EQ(ids(five.items).size(), 5u);
  // Filters paginate as well.
  ASSERT_EQ(admin().post("/v1/admin/orders/" + placed[1] + "/cancel", json::object()).status, 200u);
  ASSERT_EQ(admin().post("/v1/admin/orders/" + placed[3] + "/cancel", json::object()).status, 200u);
  Walk pending = walk(admin(), "/v1/admin/orders?limit=1&status=placed");
  EXPECT_EQ(ids(pending.items), (std::set<std::string>{placed[0], placed[2], placed[4]}));
  Walk cancelled = walk(admin(), "/v1/admin/orders?limit=1&status=cancelled&channel=web");
  EXPECT_EQ(ids(cancelled.items), (std::set<std::string>{placed[1], placed[3]}));
  EXPECT_TRUE(IsProblem(admin().get("/v1/admin/orders?channel=no-such-channel"), 404, "channel.not_found"));
}

TEST_F(PaginationTest, OnlyPublishedProductsOfTheChannelAreVisibleInTheStore) {
  std::string web = admin().get("/v1/admin/channels/web").json().value("id", "");
  ASSERT_FALSE(web.empty());
  auto make = [&](const std::string& handle, const std::string& status) {
    auto r = admin().post("/v1/admin/products", {{"handle", handle}, {"title", "Hidden " + handle}, {"status", status},
                                                  {"variants", {{{"sku", "HID-" + handle}, {"title", "One"},
                                                                 {"prices", {{{"amount", 1000}, {"currency", "CNY"}}}}}}}});
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("id", "");
  };
  std::string draft = make("draft-jacket", "draft");
  std::string unpublished = make("unlisted-jacket", "published");  // published, but not to 'web'
  std::string archived = make("archived-jacket", "published");
  ASSERT_EQ(admin().post("/v1/admin/channels/" + web + "/publish", {{"product_ids", {draft, archived}}}).status, 200u);
  ASSERT_EQ(admin().post("/v1/admin/products/" + archived + "/archive", json::object()).status, 200u);
  // A demo product is archived, another is unpublished from the channel.
  auto tee = admin().get("/v1/admin/products/organic-cotton-tee");
  ASSERT_EQ(tee.status, 200u);
  std::string tee_id = tee.json()["id"];
  auto mug = admin().get("/v1/admin/products?q=mug&limit=1");
  ASSERT_EQ(mug.status, 200u);
  ASSERT_FALSE(mug.json()["items"].empty());
  std::string mug_id = mug.json()["items"][0]["id"], mug_handle = mug.json()["items"][0]["handle"];
  // Warm the store cache first, so a stale cached page would show.
  ASSERT_EQ(store().get("/v1/store/products/organic-cotton-tee").status, 200u);
  ASSERT_EQ(store().get("/v1/store/products?limit=100").status, 200u);
  ASSERT_EQ(admin().post("/v1/admin/products/" + tee_id + "/archive", json::object()).status, 200u);
  ASSERT_EQ(admin().post("/v1/admin/channels/" + web + "/unpublish", {{"product_ids", {mug_id}}}).status, 200u);

  std::set<std::string> hidden{draft, unpublished, archived, tee_id, mug_id};
  Walk w = walk(store(), "/v1/store/products?limit=100");
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.items.size(), kDemoProducts - 2);
  for (const auto& id : ids(w.items)) EXPECT_FALSE(hidden.count(id)) << id;
  for (const std::string& h : std::vector<std::string>{"draft-jacket", "unlisted-jacket", "archived-jacket", "organic-cotton-tee", mug_handle}) {
    SCOPED_TRACE(h);
    EXPECT_TRUE(IsProblem(store().get("/v1/store/products/" + h), 404, "product.not_found"));
  }
  for (const auto& id : hidden) EXPECT_TRUE(IsProblem(store().get("/v1/store/products/" + id), 404, "product.not_found"));
  auto search = store().get("/v1/store/products?q=jacket");
  ASSERT_EQ(search.status, 200u);
  const json found = search.json()["items"];
  for (const auto& p : found) EXPECT_FALSE(hidden.count(p["id"])) << p.dump();
  // Not purchasable either.
  auto cart = store().post("/v1/store/carts", {{"items", {{{"sku", "HID-draft-jacket"}, {"quantity", 1}}}}});
  EXPECT_TRUE(IsProblem(cart, 400, "cart.unknown_variant"));
  auto tee_cart = store().post("/v1/store/carts", {{"items", {{{"sku", "TEE-ORGANIC-NAVY-S"}, {"quantity", 1}}}}});
  EXPECT_TRUE(IsProblem(tee_cart, 400, "cart.unknown_variant"));

  // The admin sees all of them, with their status.
  EXPECT_EQ(admin().get("/v1/admin/products/" + draft).json()["status"], "draft");
  EXPECT_EQ(admin().get("/v1/admin/products/" + unpublished).json()["status"], "published");
  EXPECT_EQ(admin().get("/v1/admin/products/archived-jacket").json()["status"], "archived");
  EXPECT_EQ(admin().get("/v1/admin/products/organic-cotton-tee").json()["status"], "archived");
  Walk drafts = walk(admin(), "/v1/admin/products?status=draft");
  EXPECT_EQ(ids(drafts.items), (std::set<std::string>{draft}));
  Walk archives = walk(admin(), "/v1/admin/products?status=archived");
  EXPECT_EQ(ids(archives.items), (std::set<std::string>{archived, tee_id}));
  Walk everything = walk(admin(), "/v1/admin/products?limit=100");
  EXPECT_EQ(everything.items.size(), kDemoProducts + 3);
  for (const auto& id : hidden) EXPECT_TRUE(ids(everything.items).count(id)) << id;

  // Publishing the draft status back makes it appear.
  ASSERT_EQ(admin().patch("/v1/admin/products/" + draft, {{"status", "published"}}).status, 200u);
  EXPECT_EQ(store().get("/v1/store/products/draft-jacket").status, 200u);
}

}  // namespace
