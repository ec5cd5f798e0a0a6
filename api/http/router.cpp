// Linear segment matching over views of the path: the route table is small, and nothing is allocated.
#include "http/router.h"
#include "http/problem.h"

#include <boost/container/small_vector.hpp>

#include <stdexcept>
#include <string_view>

namespace quanqu::http {
namespace {

// Path segments are views into the request's path: matching allocates nothing. A route table
// is a few dozen patterns of a few segments, so a small inline buffer covers every real path.
using PathSegments = boost::container::small_vector<std::string_view, 16>;

// "/a/b" -> {a, b}. Empty segments are kept ("/a//b" -> {a, "", b}; "/a/" -> {a, ""}), so they
// never match a placeholder and "/v1/store/carts//items" is not a cart route.
template <typename Out>
void split_path(std::string_view path, Out& out) {
  if (path.empty() || path == "/") return;
  std::size_t i = path.front() == '/' ? 1 : 0;
  while (true) {
    auto j = path.find('/', i);
    if (j == std::string_view::npos) {
      out.emplace_back(path.substr(i));
      return;
    }
    out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
}

bool is_placeholder(std::string_view s) {
  return s.size() > 2 && s.front() == '{' && s.back() == '}';
}

}  // namespace

bool Router::matches(const Entry& e, PathSegmentsRef path) {
  if (e.segments.size() != path.size()) return false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const Segment& s = e.segments[i];
    if (s.placeholder ? path[i].empty() : s.text != path[i]) return false;
  }
  return true;
}

void Router::add(std::string method, std::string pattern, Handler handler) {
  for (const auto& e : entries_)
    if (e.method == method && e.pattern == pattern) throw std::logic_error("duplicate route " + method + " " + pattern);
  std::vector<std::string_view> parts;
  split_path(pattern, parts);
  Entry entry{std::move(method), {}, {}, 0, std::move(handler)};
  for (std::string_view part : parts) {
    bool placeholder = is_placeholder(part);
    entry.segments.push_back({std::string(placeholder ? part.substr(1, part.size() - 2) : part), placeholder});
    entry.placeholders += placeholder;
  }
  entry.pattern = std::move(pattern);  // after the split: `parts` view into it
  entries_.push_back(std::move(entry));
}

Response Router::dispatch(Request& request) const {
  PathSegments segments;
  split_path(request.path, segments);
  std::span<const std::string_view> path(segments.data(), segments.size());
  std::string allow;
  // Exact (placeholder-free) matches win over placeholder matches: "/products/search" vs "{id}".
  // HEAD is answered by a HEAD route, or else by the GET route (the server drops the body);
  // a route of the request's own method wins over a GET standing in for HEAD.
  const bool head = request.method == "HEAD";
  const Entry* found = nullptr;
  bool found_exact_method = false;
  auto allow_method = [&allow](std::string_view m) {
    if (allow.find(m) == std::string::npos) (allow += allow.empty() ? "" : ", ") += m;
  };
  for (const auto& e : entries_) {
    if (!matches(e, path)) continue;
    bool same = e.method == request.method;
    if (!same && !(head && e.method == "GET")) {
      allow_method(e.method);
      if (e.method == "GET") allow_method("HEAD");  // answered by the GET route
      continue;
    }
    if (!found || (same && !found_exact_method) ||
        (same == found_exact_method && e.placeholders < found->placeholders)) {
      found = &e;
      found_exact_method = same;
    }
  }
  if (!found) {
    for (const auto& [prefix, handler] : prefixes_)
      if (request.path.compare(0, prefix.size(), prefix) == 0) {
        request.params.clear();
        request.route = prefix + "*";
        return handler(request);
      }
    if (!allow.empty()) {
      auto r =
          problem(Error::invalid("method_not_allowed", request.method + " is not allowed on " + request.path), 405);
      r.set_header("Allow", allow);
      return r;
    }
    return problem(Error::not_found("route_not_found", "no route for " + request.method + " " + request.path));
  }
  request.params.clear();
  for (std::size_t i = 0; i < path.size(); ++i)
    if (found->segments[i].placeholder) request.params[found->segments[i].text] = std::string(path[i]);
  request.route = found->pattern;
  return found->handler(request);  // exceptions propagate: the server logs them and answers 500
}

void Router::add_prefix(std::string prefix, Handler handler) {
  prefixes_.emplace_back(std::move(prefix), std::move(handler));
}

std::vector<std::string> Router::prefixes() const {
  std::vector<std::string> out;
  for (const auto& [prefix, _] : prefixes_) out.push_back(prefix);
  return out;
}

std::vector<Router::Route> Router::routes() const {
  std::vector<Route> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back({e.method, e.pattern});
  return out;
}

}  // namespace quanqu::http
