// HTTP validators and content coding for cacheable replies: strong ETags, If-None-Match, Accept-Encoding, gzip.
#pragma once

#include "http/message.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace quanqu::http {

// A strong entity tag for `body`: the first 128 bits of its SHA-256 in hex, quoted
// ("\"0f1e...\""). Equal bodies get equal tags, on every server sharing a database.
std::string strong_etag(std::string_view body);

// RFC 9110 section 13.1.2: true when the If-None-Match field value `header` matches `etag`,
// comparing weakly (a "W/" prefix on either side is ignored), or is "*". The value is a list of
// entity-tags; a malformed element ends
// the list and matches nothing from there on, so a garbled header never produces a 304.
bool if_none_match(std::string_view header, std::string_view etag);

// RFC 9110 section 12.5.3: true when the Accept-Encoding field value allows gzip: "gzip" or
// "x-gzip" with a q-value above 0, or "*" above 0 when neither is named. Codings are matched
// case-insensitively; an absent or empty field allows none (the identity coding is then sent).
bool accepts_gzip(std::string_view accept_encoding);

// The gzip (RFC 1952) encoding of `data` with zlib at `level` (1..9); nothing if zlib fails.
std::optional<std::string> gzip_compress(std::string_view data, int level = 6);

// A reply body computed once and served many times: its strong ETag and, when it is at least
// kGzipMinBytes and compression makes it smaller, its gzip encoding (else `gzip` is empty) with
// an ETag of its own (RFC 9110 section 8.8.3: a strong validator differs between codings).
// Immutable once built; shared between requests.
struct Representation {
  static constexpr std::size_t kGzipMinBytes = 1024;
  std::string body;
  std::string content_type;
  std::string etag;
  std::string gzip;
  std::string gzip_etag;  // etag with "-gzip" inside the quotes; empty when `gzip` is
};

// Builds a Representation of `body`: hashes it and compresses it (the only place that does).
std::shared_ptr<const Representation> make_representation(std::string body,
                                                          std::string content_type = "application/json");

// The response to `request` (a GET or HEAD; header names lower-case, as the server makes them)
// for `rep`, doing no hashing or compression:
//  * the coding is chosen first: gzip when the request accepts it and rep has one, else none;
//  * any If-None-Match field matching the chosen coding's ETag: 304 with no body or Content-Type;
//  * otherwise 200 with that body ("Content-Encoding: gzip" for the gzip one).
// Both carry the chosen coding's ETag, `cache_control` and `vary` (which should list
// Accept-Encoding); the body is shared with `rep`, never copied.
Response representation_response(const Request& request, std::shared_ptr<const Representation> rep,
                                 std::string_view cache_control, std::string_view vary);

}  // namespace quanqu::http
