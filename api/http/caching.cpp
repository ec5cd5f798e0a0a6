// RFC 9110 validators and content negotiation for shared replies; gzip through zlib.
#include "http/caching.h"

#include "common/random.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace quanqu::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The opaque-tag of an entity-tag (with its quotes), dropping a weak "W/" prefix; empty when
// `tag` is not an entity-tag (RFC 9110 section 8.8.3: DQUOTE *etagc DQUOTE).
std::string_view opaque_tag(std::string_view tag) {
  if (tag.starts_with("W/")) tag.remove_prefix(2);
  if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') return {};
  for (char c : tag.substr(1, tag.size() - 2)) {
    auto u = static_cast<unsigned char>(c);
    if (u == '"' || u < 0x21 || u == 0x7F) return {};  // etagc excludes DQUOTE, controls and spaces
  }
  return tag;
}

// The q-value of one Accept-Encoding element's parameters (";q=0.5"); 1 when absent, -1 when
// malformed (the element is then ignored).
double q_value(std::string_view params) {
  double q = 1;
  while (!params.empty()) {
    auto semi = params.find(';');
    auto param = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (param.empty()) continue;
    auto eq = param.find('=');
    if (eq == std::string_view::npos) return -1;
    if (!iequals(trim(param.substr(0, eq)), "q")) continue;
    auto value = trim(param.substr(eq + 1));
    // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
    if (value.empty() || value.size() > 5 || (value[0] != '0' && value[0] != '1')) return -1;
    if (value.size() > 1 && value[1] != '.') return -1;
    for (std::size_t i = 2; i < value.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(value[i]))) return -1;
    q = std::strtod(std::string(value).c_str(), nullptr);
    if (q > 1) return -1;
  }
  return q;
}

}  // namespace

std::string strong_etag(std::string_view body) {
  return "\"" + sha256_hex(body).substr(0, 32) + "\"";
}

bool if_none_match(std::string_view header, std::string_view etag) {
  header = trim(header);
  if (header == "*") return true;
  std::string_view mine = opaque_tag(etag);
  if (mine.empty()) return false;
  while (!header.empty()) {
    auto comma = header.find(',');
    auto item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (item.empty()) continue;  // "a, , b": empty list elements are allowed
    auto theirs = opaque_tag(item);
    if (theirs.empty()) return false;
    if (theirs == mine) return true;
  }
  return false;
}

bool accepts_gzip(std::string_view accept_encoding) {
  double gzip = -1, star = -1;
  while (!accept_encoding.empty()) {
    auto comma = accept_encoding.find(',');
    auto item = accept_encoding.substr(0, comma);
    accept_encoding = comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    auto semi = item.find(';');
    auto coding = trim(item.substr(0, semi));
    double q = q_value(semi == std::string_view::npos ? std::string_view() : item.substr(semi + 1));
    if (coding.empty() || q < 0) continue;
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
      gzip = std::max(gzip, q);
    else if (coding == "*")
      star = std::max(star, q);
  }
  return gzip >= 0 ? gzip > 0 : star > 0;
}

std::optional<std::string> gzip_compress(std::string_view data, int level) {
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper rather than zlib's own.
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(data.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

std::shared_ptr<const Representation> make_representation(std::string body, std::string content_type) {
  auto rep = std::make_shared<Representation>();
  rep->etag = strong_etag(body);
  if (body.size() >= Representation::kGzipMinBytes) {
    auto compressed = gzip_compress(body);
    if (compressed && compressed->size() < body.size()) {
      rep->gzip = std::move(*compressed);
      rep->gzip_etag = rep->etag.substr(0, rep->etag.size() - 1) + "-gzip\"";
    }
  }
  rep->body = std::move(body);
  rep->content_type = std::move(content_type);
  return rep;
}

Response representation_response(const Request& request, std::shared_ptr<const Representation> rep,
                                 std::string_view cache_control, std::string_view vary) {
  // Repeated fields are one list (RFC 9110 section 5.3): Accept-Encoding fields are joined, each
  // If-None-Match field is matched.
  std::string accept_encoding;
  for (const auto& [name, value] : request.headers)
    if (name == "accept-encoding") (accept_encoding += accept_encoding.empty() ? "" : ",") += value;
  bool gzip = !rep->gzip.empty() && accepts_gzip(accept_encoding);
  const std::string& etag = gzip ? rep->gzip_etag : rep->etag;
  Response r;
  r.headers.reserve(4);
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", std::string(cache_control));
  r.headers.emplace_back("Vary", std::string(vary));
  for (const auto& [name, value] : request.headers)
    if (name == "if-none-match" && if_none_match(value, etag)) {
      r.status = 304;
      r.content_type.clear();
      return r;
    }
  r.status = 200;
  r.content_type = rep->content_type;
  if (gzip) r.headers.emplace_back("Content-Encoding", "gzip");
  const std::string& chosen = gzip ? rep->gzip : rep->body;
  r.shared_body = std::shared_ptr<const std::string>(std::move(rep), &chosen);  // aliases the representation
  return r;
}

}  // namespace quanqu::http
