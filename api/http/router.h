// Routes requests by method and path pattern ("/v1/store/products/{id}") to handlers.
#pragma once

#include "http/message.h"

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu::http {

using Handler = std::function<Response(Request&)>;

class Router {
 public:
  struct Route {
    std::string method;
    std::string pattern;
  };

  // Registers a handler. A pattern segment "{name}" matches one non-empty path segment.
  // Registering the same method and pattern twice throws std::logic_error (a start-up bug).
  void add(std::string method, std::string pattern, Handler handler);

  // Finds the handler, fills request.params and request.route, and calls it. A HEAD request
  // is handled by a HEAD route of the path, or else by its GET route (request.method stays
  // "HEAD"; the server sends the headers without the body). No route is a 404 problem; a path
  // known for other methods is a 405 with an Allow header (listing HEAD wherever GET is). Exceptions from
  // a handler propagate to the caller (the server logs them and answers a 500 problem).
  Response dispatch(Request& request) const;

  // Every registered route, in registration order (the OpenAPI test compares against it).
  std::vector<Route> routes() const;

  // Sends every request whose path starts with `prefix` and that no route matches (404 or 405)
  // to `handler`, which routes it further itself (plugin routes change at run time).
  void add_prefix(std::string prefix, Handler handler);

  // Every registered prefix, in registration order (the OpenAPI test compares against it).
  std::vector<std::string> prefixes() const;

 private:
  struct Segment {
    std::string text;  // the literal segment, or the placeholder's name
    bool placeholder = false;
  };
  struct Entry {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;  // split once, when the route is added
    int placeholders = 0;
    Handler handler;
  };
  using PathSegmentsRef = std::span<const std::string_view>;
  static bool matches(const Entry& e, PathSegmentsRef path);  // the segments, placeholders non-empty

  std::vector<Entry> entries_;
  std::vector<std::pair<std::string, Handler>> prefixes_;
};

}  // namespace quanqu::http
