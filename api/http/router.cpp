// Linear segment matching: the route table is small, and exact segments are checked first.
#include "http/router.h"
#include "http/problem.h"

#include <stdexcept>

namespace quanqu::http {
namespace {

// "/a/b" -> {a, b}. Empty segments are kept ("/a//b" -> {a, "", b}; "/a/" -> {a, ""}), so they
// never match a placeholder and "/v1/store/carts//items" is not a cart route.
std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  if (path.empty() || path == "/") return out;
  std::size_t i = path.front() == '/' ? 1 : 0;
  while (true) {
    auto j = path.find('/', i);
    if (j == std::string::npos) {
      out.emplace_back(path.substr(i));
      return out;
    }
    out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
}

bool is_placeholder(const std::string& s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }

bool match(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
           std::unordered_map<std::string, std::string>* params) {
  if (pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (is_placeholder(pattern[i])) {
      if (path[i].empty()) return false;
      if (params) (*params)[pattern[i].substr(1, pattern[i].size() - 2)] = path[i];
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  for (const auto& e : entries_)
    if (e.method == method && e.pattern == pattern)
      throw std::logic_error("duplicate route " + method + " " + pattern);
  auto segments = split_path(pattern);
  entries_.push_back({std::move(method), std::move(pattern), std::move(segments), std::move(handler)});
}

Response Router::dispatch(Request& request) const {
  auto segments = split_path(request.path);
  std::string allow;
  // Exact (placeholder-free) matches win over placeholder matches: "/products/search" vs "{id}".
  const Entry* found = nullptr;
  int best_placeholders = 1 << 30;
  for (const auto& e : entries_) {
    if (!match(e.segments, segments, nullptr)) continue;
    if (e.method != request.method) {
      if (allow.find(e.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + e.method;
      continue;
    }
    int placeholders = 0;
    for (const auto& s : e.segments) placeholders += is_placeholder(s);
    if (placeholders < best_placeholders) {
      found = &e;
      best_placeholders = placeholders;
    }
  }
  if (!found) {
    if (!allow.empty()) {
      auto r = problem(Error::invalid("method_not_allowed", request.method + " is not allowed on " + request.path),
                       405);
      r.set_header("Allow", allow);
      return r;
    }
    return problem(Error::not_found("route_not_found", "no route for " + request.method + " " + request.path));
  }
  request.params.clear();
  match(found->segments, segments, &request.params);
  request.route = found->pattern;
  try {
    return found->handler(request);
  } catch (const std::exception& e) {
    return problem(Error::internal(std::string("unexpected error: ") + e.what()));
  } catch (...) {
    return problem(Error::internal("unexpected error"));
  }
}

std::vector<Router::Route> Router::routes() const {
  std::vector<Route> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back({e.method, e.pattern});
  return out;
}

}  // namespace quanqu::http
