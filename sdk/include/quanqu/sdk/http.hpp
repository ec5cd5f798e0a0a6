// The request and response of a plugin route, as plain C++ values (no server or Beast types).
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quanqu::sdk {

// A request to one of the plugin's routes: a copy owned by the handler.
struct Request {
  std::string method;                         // upper case: "GET", "POST", ...
  std::string path;                           // full percent-decoded path: "/v1/plugins/<name>/orders/42"
  std::map<std::string, std::string> params;  // {placeholders} of the route pattern
  std::map<std::string, std::string> query;   // decoded query parameters
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case, in order received
  std::string body;
  std::string channel_id;  // channel of the X-Publishable-Key header, empty when none was sent
  std::string request_id;  // the server's request id, for log lines
  std::string customer_id;  // the signed-in customer (X-Customer-Token header), empty when none

  // The first header with this name (give it in lower case), or nothing.
  std::optional<std::string_view> header(std::string_view lower_case_name) const {
    for (const auto& [name, value] : headers)
      if (name == lower_case_name) return std::string_view(value);
    return std::nullopt;
  }
  // The query parameter, or nothing.
  std::optional<std::string_view> query_param(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return std::string_view(it->second);
  }
};

// The reply of a plugin route. Statuses outside 100..599 are answered as 502 by the server.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // `json_text` is sent as is (serialise with the JSON library of your choice).
  static Response json(int status, std::string json_text) {
    return Response{status, "application/json", std::move(json_text), {}};
  }
  static Response text(int status, std::string body) {
    return Response{status, "text/plain; charset=utf-8", std::move(body), {}};
  }
  // An RFC 9457 problem+json reply with the server's fields (status, code, detail; type is
  // about:blank and title the code): `code` is stable and machine readable (start it with the
  // plugin's name), `detail` is for people.
  static Response problem(int status, std::string_view code, std::string_view detail);
};

// An outgoing request, made through Host::fetch.
struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute http:// or https:// URL
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int timeout_ms = 0;  // 0: the server's default (10 s); at most 60 s
};

// The reply to an HttpRequest.
struct HttpReply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case
  std::string body;

  std::optional<std::string_view> header(std::string_view lower_case_name) const {
    for (const auto& [name, value] : headers)
      if (name == lower_case_name) return std::string_view(value);
    return std::nullopt;
  }
};

// `s` as a JSON string literal, quotes included (escapes quotes, backslashes and control characters),
// for plugins that build small JSON replies without a JSON library.
inline std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

inline Response Response::problem(int status, std::string_view code, std::string_view detail) {
  std::string body = "{\"type\":\"about:blank\",\"status\":" + std::to_string(status) + ",\"title\":" +
                     json_quote(code) + ",\"code\":" + json_quote(code) + ",\"detail\":" + json_quote(detail) + "}";
  return Response{status, "application/problem+json", std::move(body), {}};
}

}  // namespace quanqu::sdk
