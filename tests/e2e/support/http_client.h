// A small synchronous HTTP/1.1 client for end-to-end tests (one keep-alive connection).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace quanqu::e2e {

using Headers = std::vector<std::pair<std::string, std::string>>;

// `s` with ASCII letters in lower case: header names are compared so.
std::string lower_case(std::string s);

struct HttpResponse {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names; repeated headers joined with ", "

  // The body parsed as JSON; null for an empty body. Throws std::runtime_error quoting the
  // status and body when it is not JSON, so a failing test shows what came back.
  nlohmann::json json() const;
  // The header's value (name case-insensitive), or "" when absent.
  std::string header(const std::string& name) const;
};

// One request as sent and the response it got, as a recording HttpClient saw it.
struct Exchange {
  std::string method;
  std::string target;  // path and query, as sent
  HttpResponse response;
};

// Collects the exchanges of every recording client of the process (thread-safe), so that the
// E2ETest fixture can check each test's traffic against the OpenAPI document. Holds at most
// kCapacity exchanges; later ones are counted in dropped() and not kept.
class ExchangeLog {
 public:
  static constexpr std::size_t kCapacity = 20000;

  static ExchangeLog& instance();

  void add(Exchange exchange);
  // Hands over the exchanges recorded so far, oldest first, and forgets them and the drop count.
  std::vector<Exchange> take(std::size_t* dropped = nullptr);

 private:
  std::mutex mutex_;
  std::vector<Exchange> exchanges_;
  std::size_t dropped_ = 0;
};

// One connection to one server, opened on first use and reused (keep-alive). A request that
// fails on a reused connection before any response byte arrives (the server closed it while
// idle) is retried once on a fresh connection. When a response says "Connection: close" the
// connection is dropped and the next request reconnects.
// Every connect, write and read has a deadline (timeout(), 30 s by default); a transport error
// or timeout throws std::runtime_error naming the request. HTTP error statuses do not throw.
// Not thread-safe: use one client per thread. Movable, not copyable.
class HttpClient {
 public:
  HttpClient(std::string host, unsigned short port);
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  // Sent with every request; a header given to request() with the same name (any case)
  // replaces it for that request. Setting an empty value removes the default.
  void set_default_header(std::string name, std::string value);
  void set_timeout(std::chrono::milliseconds timeout);
  // When on, every completed exchange is added to ExchangeLog::instance(). ServerProcess::client()
  // turns it on for clients of the quanqu server; off by default (and for fakes' clients).
  void set_recording(bool on);

  // `target` is the path with any query ("/v1/store/products?limit=2"). With a body,
  // Content-Type defaults to application/json. Host and Content-Length are set for you.
  // A header in `headers` replaces a default or set one of that name; a name listed twice is
  // sent twice (both values), and an empty value removes the header (e.g. Content-Type).
  HttpResponse request(std::string method, std::string target, std::optional<std::string> body = {},
                       Headers headers = {});

  HttpResponse get(std::string target, Headers headers = {});
  HttpResponse post(std::string target, const nlohmann::json& body, Headers headers = {});
  HttpResponse patch(std::string target, const nlohmann::json& body, Headers headers = {});
  HttpResponse put(std::string target, const nlohmann::json& body, Headers headers = {});
  HttpResponse del(std::string target, Headers headers = {});

  // Drops the connection; the next request opens a new one.
  void disconnect();

  const std::string& host() const;
  unsigned short port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quanqu::e2e
