// Routes requests by method and path pattern ("/v1/store/products/{id}") to handlers.
#pragma once

#include "http/message.h"

#include <functional>
#include <string>
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

  // Finds the handler, fills request.params and request.route, and calls it. No route is a
  // 404 problem; a path known for other methods is a 405 with an Allow header. A handler that
  // throws becomes a 500 problem (code "internal"); the exception never escapes.
  Response dispatch(Request& request) const;

  // Every registered route, in registration order (the OpenAPI test compares against it).
  std::vector<Route> routes() const;

 private:
  struct Entry {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Entry> entries_;
};

}  // namespace quanqu::http
