// The HTTP request and response as handlers see them: plain values, no Beast types.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace quanqu::http {

struct Request {
  std::string method;                                        // upper case: "GET", "POST", ...
  std::string path;                                          // percent-decoded path, without the query string
  std::unordered_map<std::string, std::string> query;        // decoded; the last value wins
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string request_id;  // from a valid X-Request-Id, or generated
  std::string remote_address;

  // Filled by the router: values of {placeholders} in the matched pattern, and the pattern.
  std::unordered_map<std::string, std::string> params;
  std::string route;

  // The first header with this name (case-insensitive), or nothing.
  std::optional<std::string_view> header(std::string_view name) const;
  // The query parameter, or nothing.
  std::optional<std::string_view> query_param(std::string_view name) const;
  const std::string& param(const std::string& name) const { return params.at(name); }
};

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // An immutable body shared with its owner (e.g. a reply cache). When set, it is the body and
  // `body` is ignored: the server sends it without copying and holds a reference until the
  // response is written. The string must never be modified once handed over.
  std::shared_ptr<const std::string> shared_body;

  // The body that will be sent: *shared_body when set, otherwise body.
  std::string_view body_view() const { return shared_body ? std::string_view(*shared_body) : std::string_view(body); }

  // A handler that answers later, from another thread, returns a Response whose `deferred` is
  // set (everything else in it is ignored). The server calls it once, on the connection's
  // strand, with a Completion; the handler's work calls that Completion exactly once, from any
  // thread, with the final Response, which the server then treats as if the handler had returned
  // it (headers, CORS, keep-alive, metrics and access log as usual). A second call is ignored.
  // Until it is called the connection waits and a graceful stop waits for it; a Completion
  // destroyed without being called closes the connection without an answer. The request the
  // handler saw is not kept for the work: copy what it needs.
  using Completion = std::function<void(Response)>;
  std::function<void(Completion)> deferred;

  static Response json(unsigned status, const nlohmann::json& body);
  static Response text(unsigned status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  // A response whose body is shared, not copied (see shared_body). A null `body` is an empty body.
  static Response shared(unsigned status, std::shared_ptr<const std::string> body,
                         std::string content_type = "application/json");
  static Response no_content() {
    Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  void set_header(std::string name, std::string value);
};

}  // namespace quanqu::http
