// End to end: catalog ETags and 304s, Cache-Control and Vary, gzip negotiation, and HEAD on GET routes.
#include "support/fixture.h"
#include "support/raw_socket.h"

#include <zlib.h>

#include <chrono>
#include <string>

namespace {

using nlohmann::json;
using quanqu::e2e::parse_raw_response;
using quanqu::e2e::RawConnection;
using namespace std::chrono_literals;

// The gunzipped `data`, or "<not gzip>" so that a comparison fails readably.
std::string gunzip(const std::string& data) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return "<not gzip>";
  std::string out;
  char buf[16384];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END && z.avail_in == 0 ? out : "<not gzip>";
}

bool lists(const std::string& header, const std::string& token) {
  return header.find(token) != std::string::npos;
}

class CachingTest : public E2ETest {
 protected:
  // The raw reply to `method target` with `headers` (each line ending in CRLF), on a fresh
  // connection that the request closes.
  quanqu::e2e::RawResponse raw(const std::string& method, const std::string& target, const std::string& headers) {
    RawConnection c("127.0.0.1", server().port());
    EXPECT_TRUE(c.send(method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + "\r\n"));
    return parse_raw_response(c.read_until_close(5s));
  }
  std::string key_header() { return "X-Publishable-Key: " + server().publishable_key() + "\r\n"; }
};

TEST_F(CachingTest, CatalogRepliesCarryAStrongETagAndCachingHeaders) {
  for (const std::string target : {"/v1/store/products", "/v1/store/categories"}) {
    SCOPED_TRACE(target);
    auto r = store().get(target);
    ASSERT_EQ(r.status, 200u) << r.body;
    std::string etag = r.header("ETag");
    ASSERT_EQ(etag.size(), 34u) << etag;  // a quoted 128-bit hex hash, not weak
    EXPECT_EQ(etag.front(), '"');
    EXPECT_EQ(r.header("Cache-Control"), "public, max-age=0, must-revalidate");
    EXPECT_TRUE(lists(r.header("Vary"), "X-Publishable-Key")) << r.header("Vary");
    EXPECT_TRUE(lists(r.header("Vary"), "Accept-Encoding")) << r.header("Vary");
    // The same reply again: the same tag.
    EXPECT_EQ(store().get(target).header("ETag"), etag);
  }
}

TEST_F(CachingTest, IfNoneMatchIsAnswered304WithoutBody) {
  auto first = store().get("/v1/store/products");
  ASSERT_EQ(first.status, 200u) << first.body;
  std::string etag = first.header("ETag");
  for (const std::string& inm : {etag, "W/" + etag, "\"nope\", " + etag, std::string("*"), " \"a\" ,W/" + etag + " "}) {
    SCOPED_TRACE(inm);
    auto r = store().get("/v1/store/products", {{"If-None-Match", inm}});
    EXPECT_EQ(r.status, 304u) << r.body;
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.header("ETag"), etag);
    EXPECT_EQ(r.header("Cache-Control"), "public, max-age=0, must-revalidate");
    EXPECT_TRUE(lists(r.header("Vary"), "Accept-Encoding"));
  }
  // Other tags, malformed lists and another page's tag do not match.
  for (const std::string& inm :
       {std::string("\"nope\""), std::string("nope"), etag.substr(1, 32), "garbage, " + etag}) {
    SCOPED_TRACE(inm);
    auto r = store().get("/v1/store/products", {{"If-None-Match", inm}});
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, first.body);
  }
  EXPECT_EQ(store().get("/v1/store/products?limit=1", {{"If-None-Match", etag}}).status, 200u);
}

TEST_F(CachingTest, AWriteChangesTheETag) {
  auto before = store().get("/v1/store/products");
  ASSERT_EQ(before.status, 200u);
  std::string etag = before.header("ETag");
  std::string id = before.json()["items"][0]["id"];
  auto patched = admin().patch("/v1/admin/products/" + id, {{"title", "A new title"}});
  ASSERT_EQ(patched.status, 200u) << patched.body;
  auto after = store().get("/v1/store/products", {{"If-None-Match", etag}});
  EXPECT_EQ(after.status, 200u);
  EXPECT_NE(after.header("ETag"), etag);
  EXPECT_NE(after.body.find("A new title"), std::string::npos);
}

TEST_F(CachingTest, GzipWhenAcceptedAndTheSameBodyOnceDecompressed) {
  auto plain = store().get("/v1/store/products");
  ASSERT_EQ(plain.status, 200u);
  ASSERT_GT(plain.body.size(), 1024u);
  EXPECT_TRUE(plain.header("Content-Encoding").empty());
  for (const std::string ae : {"gzip", "gzip, deflate, br", "br;q=1, gzip;q=0.5", "*", "x-gzip", "GZIP;Q=1"}) {
    SCOPED_TRACE(ae);
    auto r = store().get("/v1/store/products", {{"Accept-Encoding", ae}});
    ASSERT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("Content-Encoding"), "gzip");
    EXPECT_LT(r.body.size(), plain.body.size() / 2);
    EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
    EXPECT_EQ(gunzip(r.body), plain.body);
    // A strong validator differs between codings (RFC 9110 section 8.8.3).
    std::string tag = plain.header("ETag");
    EXPECT_EQ(r.header("ETag"), tag.substr(0, tag.size() - 1) + "-gzip\"");
  }
  for (const std::string ae : {"gzip;q=0", "br", "identity", "*;q=0", "gzip;q=0, *", "deflate", "gzip;q=x"}) {
    SCOPED_TRACE(ae);
    auto r = store().get("/v1/store/products", {{"Accept-Encoding", ae}});
    EXPECT_TRUE(r.header("Content-Encoding").empty());
    EXPECT_EQ(r.body, plain.body);
  }
  // If-None-Match is matched against the tag of the coding the request gets: a cache holding the
  // gzip reply revalidates it; one holding the plain reply but now asking for gzip gets it whole.
  auto gz = store().get("/v1/store/products", {{"Accept-Encoding", "gzip"}});
  auto r = store().get("/v1/store/products", {{"Accept-Encoding", "gzip"}, {"If-None-Match", gz.header("ETag")}});
  EXPECT_EQ(r.status, 304u);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.header("ETag"), gz.header("ETag"));
  auto other =
      store().get("/v1/store/products", {{"Accept-Encoding", "gzip"}, {"If-None-Match", plain.header("ETag")}});
  EXPECT_EQ(other.status, 200u);
  EXPECT_EQ(other.header("Content-Encoding"), "gzip");
  EXPECT_EQ(store().get("/v1/store/products", {{"If-None-Match", gz.header("ETag")}}).status, 200u);
}

TEST_F(CachingTest, SmallRepliesAreNotCompressed) {
  // Under 1 KiB, gzip saves too little to be worth it: a product list filtered to nothing.
  auto plain = store().get("/v1/store/products?q=no-such-product-anywhere");
  ASSERT_EQ(plain.status, 200u) << plain.body;
  ASSERT_LT(plain.body.size(), 1024u) << plain.body;
  auto r = store().get("/v1/store/products?q=no-such-product-anywhere", {{"Accept-Encoding", "gzip"}});
  EXPECT_TRUE(r.header("Content-Encoding").empty());
  EXPECT_EQ(r.body, plain.body);
  EXPECT_TRUE(lists(r.header("Vary"), "Accept-Encoding"));
}

TEST_F(CachingTest, UncachedRepliesAreNotStored) {
  auto cart = store().post("/v1/store/carts", json::object());
  ASSERT_EQ(cart.status, 201u) << cart.body;
  EXPECT_EQ(cart.header("Cache-Control"), "no-store");
  auto read = store().get("/v1/store/carts/" + cart.json()["id"].get<std::string>());
  EXPECT_EQ(read.header("Cache-Control"), "no-store");
  EXPECT_TRUE(read.header("ETag").empty());
  EXPECT_EQ(admin().get("/v1/admin/products").header("Cache-Control"), "no-store");
  // An error from a catalog route is not a cacheable catalog reply either.
  auto missing = store().get("/v1/store/products/prod_nope");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.header("Cache-Control"), "no-store");
}

// HEAD answers what GET would, headers and Content-Length included, without a body.
TEST_F(CachingTest, HeadOnEveryGetRoute) {
  auto cart = store().post("/v1/store/carts", json::object());
  ASSERT_EQ(cart.status, 201u);
  auto products = store().get("/v1/store/products");
  std::string product = products.json()["items"][0]["id"];
  struct Case {
    std::string target;
    std::string headers;
  };
  std::string admin_key = "Authorization: Bearer " + server().admin_key() + "\r\n";
  std::vector<Case> cases = {
      {"/healthz", ""},
      {"/v1/store/products", key_header()},
      {"/v1/store/products", key_header() + "Accept-Encoding: gzip\r\n"},
      {"/v1/store/products/" + product, key_header()},
      {"/v1/store/categories", key_header()},
      {"/v1/store/carts/" + cart.json()["id"].get<std::string>(), key_header()},
      {"/v1/admin/products", admin_key},
      {"/v1/admin/orders", admin_key},
      {"/v1/store/products", ""},  // 401 too
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.target + "\n" + c.headers);
    auto get = raw("GET", c.target, c.headers);
    auto head = raw("HEAD", c.target, c.headers);
    ASSERT_NE(get.status, 0u);
    EXPECT_EQ(head.status, get.status);
    EXPECT_NE(head.status, 405u);
    EXPECT_TRUE(head.body.empty()) << head.body;
    EXPECT_EQ(head.header("Content-Length"), std::to_string(get.body.size()));
    EXPECT_EQ(head.header("Content-Type"), get.header("Content-Type"));
    EXPECT_EQ(head.header("Content-Encoding"), get.header("Content-Encoding"));
    EXPECT_EQ(head.header("ETag"), get.header("ETag"));
  }
  // A conditional HEAD is a 304 too.
  auto head = raw("HEAD", "/v1/store/products", key_header() + "If-None-Match: " + products.header("ETag") + "\r\n");
  EXPECT_EQ(head.status, 304u);
}

TEST_F(CachingTest, MethodNotAllowedListsHeadBesideGet) {
  auto r = store().request("PUT", "/v1/store/products", std::string("{}"));
  EXPECT_EQ(r.status, 405u);
  EXPECT_TRUE(lists(r.header("Allow"), "GET")) << r.header("Allow");
  EXPECT_TRUE(lists(r.header("Allow"), "HEAD")) << r.header("Allow");
}

}  // namespace
