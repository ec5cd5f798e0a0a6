// Tests of HTTP validators and content coding: ETags, If-None-Match, Accept-Encoding, gzip and replies.
#include "http/caching.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace quanqu::http {
namespace {

const std::string kTag = "\"0123456789abcdef0123456789abcdef\"";

std::string gunzip(const std::string& data) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return "<error>";
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_FINISH);
  out.resize(z.total_out);
  inflateEnd(&z);
  return rc == Z_STREAM_END ? out : "<error>";
}

std::string header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

TEST(StrongEtag, IsAQuotedHashOfTheBody) {
  auto tag = strong_etag("hello");
  EXPECT_EQ(tag.size(), 34u);
  EXPECT_EQ(tag.front(), '"');
  EXPECT_EQ(tag.back(), '"');
  EXPECT_EQ(tag, strong_etag("hello"));
  EXPECT_NE(tag, strong_etag("hello!"));
}

TEST(IfNoneMatch, MatchesByWeakComparison) {
  EXPECT_TRUE(if_none_match(kTag, kTag));
  EXPECT_TRUE(if_none_match("W/" + kTag, kTag));
  EXPECT_TRUE(if_none_match(kTag, "W/" + kTag));
  EXPECT_TRUE(if_none_match("\"a\", " + kTag, kTag));
  EXPECT_TRUE(if_none_match("\"a\",W/" + kTag + ",\"b\"", kTag));
  EXPECT_TRUE(if_none_match(" , \"a\" ,, " + kTag + " ", kTag));
  EXPECT_TRUE(if_none_match("*", kTag));
  EXPECT_TRUE(if_none_match("  *  ", kTag));
}

TEST(IfNoneMatch, OtherOrMalformedTagsDoNotMatch) {
  EXPECT_FALSE(if_none_match("\"a\"", kTag));
  EXPECT_FALSE(if_none_match("", kTag));
  EXPECT_FALSE(if_none_match(kTag.substr(1, 32), kTag));  // unquoted
  EXPECT_FALSE(if_none_match("w/" + kTag, kTag));         // W is case-sensitive
  EXPECT_FALSE(if_none_match("garbage, " + kTag, kTag));  // a malformed element ends the list
  EXPECT_FALSE(if_none_match("\"a b\", " + kTag, kTag));  // spaces are not etagc
  EXPECT_FALSE(if_none_match("*, " + kTag + "x", kTag));  // "*" only alone
  EXPECT_FALSE(if_none_match(kTag, "not-a-tag"));
  EXPECT_FALSE(if_none_match("\"\"", "\"\"x"));
}

TEST(AcceptsGzip, HonoursCodingsAndQValues) {
  for (const char* yes : {"gzip", "GZIP", "x-gzip", "gzip;q=0.001", "deflate, gzip", "br;q=1.0, gzip;q=0.5", "*",
                          "*;q=0.1", "gzip ; q=1", "gzip;q=1.000", "identity, *;q=0.5", "gzip;level=1"})
    EXPECT_TRUE(accepts_gzip(yes)) << yes;
  for (const char* no :
       {"", "identity", "br", "deflate", "gzip;q=0", "gzip;q=0.000", "*;q=0", "gzip;q=0, *", "*, gzip;q=0", "gzip;q=2",
        "gzip;q=1.5", "gzip;q=x", "gzip;q=", "gzip;q=0.0001", "gzipx", "x-gzip;q=0"})
    EXPECT_FALSE(accepts_gzip(no)) << no;
}

TEST(GzipCompress, RoundTrips) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "{\"id\":\"prod_" + std::to_string(i) + "\",\"title\":\"Tee\"},";
  auto z = gzip_compress(text);
  ASSERT_TRUE(z);
  EXPECT_LT(z->size(), text.size() / 4);
  EXPECT_EQ(gunzip(*z), text);
  auto empty = gzip_compress("");
  ASSERT_TRUE(empty);
  EXPECT_EQ(gunzip(*empty), "");
}

TEST(Representation, CompressesOnlyAboveTheThreshold) {
  auto small = make_representation(std::string(Representation::kGzipMinBytes - 1, 'a'));
  EXPECT_TRUE(small->gzip.empty());
  auto large = make_representation(std::string(Representation::kGzipMinBytes, 'a'));
  EXPECT_FALSE(large->gzip.empty());
  EXPECT_EQ(gunzip(large->gzip), large->body);
  EXPECT_EQ(large->etag, strong_etag(large->body));
  // Each coding has its own strong validator.
  EXPECT_EQ(large->gzip_etag, large->etag.substr(0, large->etag.size() - 1) + "-gzip\"");
  EXPECT_TRUE(small->gzip_etag.empty());
}

TEST(RepresentationResponse, ChoosesTheCodingAndAnswers304) {
  auto rep = make_representation(std::string(4096, 'x'));
  Request plain;
  auto r = representation_response(plain, rep, "public", "Accept-Encoding");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body_view(), rep->body);
  EXPECT_EQ(r.shared_body.get(), &rep->body);  // shared, not copied
  EXPECT_EQ(header(r, "ETag"), rep->etag);
  EXPECT_EQ(header(r, "Cache-Control"), "public");
  EXPECT_EQ(header(r, "Vary"), "Accept-Encoding");
  EXPECT_EQ(header(r, "Content-Encoding"), "");

  Request gz;
  gz.headers = {{"accept-encoding", "br"}, {"accept-encoding", "gzip"}};
  auto g = representation_response(gz, rep, "public", "Accept-Encoding");
  EXPECT_EQ(header(g, "Content-Encoding"), "gzip");
  EXPECT_EQ(header(g, "ETag"), rep->gzip_etag);
  EXPECT_EQ(g.shared_body.get(), &rep->gzip);

  // If-None-Match is matched against the tag of the coding the request would get.
  Request cond;
  cond.headers = {{"if-none-match", "\"other\""}, {"if-none-match", rep->gzip_etag}, {"accept-encoding", "gzip"}};
  auto n = representation_response(cond, rep, "public", "Accept-Encoding");
  EXPECT_EQ(n.status, 304u);
  EXPECT_TRUE(n.body_view().empty());
  EXPECT_TRUE(n.content_type.empty());
  EXPECT_EQ(header(n, "ETag"), rep->gzip_etag);
  EXPECT_EQ(header(n, "Content-Encoding"), "");

  Request plain_tag_gzip_client;  // a cache that stored the plain reply, now asking for gzip
  plain_tag_gzip_client.headers = {{"if-none-match", rep->etag}, {"accept-encoding", "gzip"}};
  auto full = representation_response(plain_tag_gzip_client, rep, "public", "Accept-Encoding");
  EXPECT_EQ(full.status, 200u);
  EXPECT_EQ(header(full, "Content-Encoding"), "gzip");

  Request plain_cond;
  plain_cond.headers = {{"if-none-match", rep->etag}};
  EXPECT_EQ(representation_response(plain_cond, rep, "public", "Accept-Encoding").status, 304u);
}

}  // namespace
}  // namespace quanqu::http
