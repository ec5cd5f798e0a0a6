// A blocking outgoing HTTP/1.1 client (http and verified https) the server uses on behalf of plugins.
#pragma once

#include "common/result.h"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace quanqu::http {

namespace detail {
struct TlsContext;  // the shared OpenSSL client context, defined in http_client.cpp
}

// One request to send. `url` is "http://host[:port][/path][?query]" or the same with "https";
// host is a DNS name, an IPv4 literal or a bracketed IPv6 literal ("[::1]"); userinfo is refused
// and a fragment ("#...") is dropped. Path and query go on the wire as given: they must already
// be percent-encoded (no spaces, control characters or non-ASCII bytes).
struct OutgoingRequest {
  std::string method = "GET";  // GET, POST, PUT, PATCH, DELETE or HEAD, upper-case
  std::string url;
  // Sent in order. Names are RFC 9110 tokens; values contain no control characters other than
  // HTAB (so no CR/LF). Host, Content-Length, Transfer-Encoding and Connection belong to the
  // client and are refused; a User-Agent here replaces Options::user_agent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int timeout_ms = 0;  // 0: Options::default_timeout_ms; larger than Options::max_timeout_ms: clamped
  // When set, called with each address the host resolved to (or the IP literal), as text
  // ("203.0.113.7", "::1"); only the addresses it allows are connected to. None allowed is the
  // error "http.address_refused". Checking the resolved address (not the name) keeps a name
  // that resolves to an internal address out, whatever DNS says between two checks.
  std::function<bool(const std::string& ip)> allow_address;
};

// The reply, whatever its status (3xx are not followed; 4xx and 5xx are replies, not errors).
struct IncomingReply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names lower-case
  std::string body;                                          // empty for HEAD
};

struct HttpClientOptions {
  int default_timeout_ms = 10000;
  int max_timeout_ms = 60000;
  std::size_t max_body_bytes = 8 * 1024 * 1024;  // the decoded (de-chunked) reply body
  std::string user_agent = "Quanqu";
};

class HttpClient {
 public:
  using Options = HttpClientOptions;

  // Creates the TLS client context (system CA paths, peer verification, TLS 1.2 or later).
  // Throws std::runtime_error only if OpenSSL cannot create it (a start-up failure).
  explicit HttpClient(Options options = {});

  // Sends one request on a new connection ("Connection: close") and reads the whole reply.
  // Blocking and thread-safe: each call has its own io_context and stream; the only shared
  // state is the TLS context, used read-only. Never throws.
  //
  // The client sets Host (with the port unless it is the scheme's default), User-Agent (unless
  // the request has one), Content-Length when there is a body or the method is POST, PUT or
  // PATCH, and Connection: close. For https the peer's certificate chain is verified against
  // the system's default CA paths and its name against the URL's host (SNI is sent for DNS
  // names). Interim 1xx replies are skipped.
  //
  // The timeout bounds the whole call: resolving, connecting, the TLS handshake, writing the
  // request and reading the reply. Errors:
  //   invalid_argument "http.bad_url"          the URL is not as described at OutgoingRequest
  //   invalid_argument "http.bad_method"       a method not listed at OutgoingRequest::method
  //   invalid_argument "http.bad_header"       a malformed header, or one the client owns
  //   invalid_argument "http.bad_timeout"      a negative timeout_ms
  //   unavailable      "http.timeout"          the deadline passed
  //   unavailable      "http.address_refused"  allow_address refused every address of the host
  //   unavailable      "http.unreachable"      the name did not resolve or no address accepted
  //                                            the connection (the message says why)
  //   unavailable      "http.tls_failed"       the TLS handshake failed (certificate not trusted,
  //                                            wrong name, not a TLS server, ...)
  //   unavailable      "http.reply_too_large"  the reply body exceeds Options::max_body_bytes, or
  //                                            its header exceeds 64 KiB
  //   unavailable      "http.bad_reply"        the peer's reply is not valid HTTP/1.x
  //   unavailable      "http.connection_failed" the connection broke after it was established
  //   internal         "internal"              an unexpected exception (a bug)
  // Messages name the scheme, host and port but never the path or query (they may hold secrets).
  Result<IncomingReply> send(const OutgoingRequest& request) const;

 private:
  Options options_;
  std::shared_ptr<const detail::TlsContext> tls_;
};

}  // namespace quanqu::http
