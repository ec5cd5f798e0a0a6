// An in-memory host for unit-testing a plugin without a server: kv in a map, a settable clock, routes called directly.
#pragma once

/*
 * Header-only, for tests only. Link the plugin's sources into a test executable and give
 * FakeHost the plugin's entry function:
 *
 *   quanqu::sdk::testing::FakeHost host(&quanqu_plugin_entry_v1);   // checks the ABI, init, start
 *   auto reply = host.call("GET", "/hello");                          // path relative to /v1/plugins/<name>
 *   assert(reply.status == 200);
 *
 * It follows the server's contract (ABI check first, routes only during start, 502 for a failing
 * handler) but none of its storage: kv lives in `kv`, time is `now_ms`, log lines go to `logs`.
 * Not thread-safe.
 */

#include "quanqu/sdk/abi.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace quanqu::sdk::testing {

class FakeHost {
 public:
  struct Reply {
    int status = 0;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  std::map<std::string, std::string> kv;    // the plugin's key-value store
  std::int64_t now_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  std::vector<std::string> logs;            // "info: message", ...

  // Loads the plugin: refuses another ABI major or a newer minor, then init and start. Throws
  // std::runtime_error with the plugin's message when any step fails.
  explicit FakeHost(quanqu_plugin_entry_fn entry) {
    descriptor_ = entry ? entry() : nullptr;
    if (!descriptor_) throw std::runtime_error("the entry function returned no descriptor");
    if (descriptor_->abi_major != QUANQU_SDK_ABI_MAJOR || descriptor_->abi_minor > QUANQU_SDK_ABI_MINOR)
      throw std::runtime_error("plugin built for SDK ABI " + std::to_string(descriptor_->abi_major) + "." +
                               std::to_string(descriptor_->abi_minor) + ", this host provides " +
                               std::to_string(QUANQU_SDK_ABI_MAJOR) + "." + std::to_string(QUANQU_SDK_ABI_MINOR));
    table_.size = sizeof(quanqu_host);
    table_.abi_major = QUANQU_SDK_ABI_MAJOR;
    table_.abi_minor = QUANQU_SDK_ABI_MINOR;
    table_.ctx = this;
    table_.log = &FakeHost::log_fn;
    table_.now_ms = &FakeHost::now_fn;
    table_.kv_get = &FakeHost::kv_get_fn;
    table_.kv_put = &FakeHost::kv_put_fn;
    table_.kv_delete = &FakeHost::kv_delete_fn;
    table_.register_route = &FakeHost::register_route_fn;
    table_.response_set = &FakeHost::response_set_fn;
    table_.response_add_header = &FakeHost::response_add_header_fn;
    char err[1024] = {0};
    if (descriptor_->init(&table_, &instance_, err, sizeof err) != QUANQU_OK)
      throw std::runtime_error(std::string("init failed: ") + err);
    starting_ = true;
    quanqu_status s = descriptor_->start(instance_, err, sizeof err);
    starting_ = false;
    if (s != QUANQU_OK) {
      descriptor_->stop(instance_);
      throw std::runtime_error(std::string("start failed: ") + err);
    }
  }
  ~FakeHost() { descriptor_->stop(instance_); }
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  // Calls the route matching `method` and `path` (relative to /v1/plugins/<name>, e.g. "/hello").
  // No match is 404; a handler that fails is 502 with its message as body.
  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::map<std::string, std::string>& query = {}, const std::string& channel_id = "",
             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    for (const auto& r : routes_) {
      std::vector<std::pair<std::string, std::string>> params;
      if (r.method != method || !match(r.pattern, path, params)) continue;
      std::vector<quanqu_pair> p, q, h;
      for (const auto& [n, v] : params) p.push_back({str(n), str(v)});
      for (const auto& [n, v] : query) q.push_back({str(n), str(v)});
      for (const auto& [n, v] : headers) h.push_back({str(n), str(v)});
      std::string full_path = "/v1/plugins/" + std::string(descriptor_->name) + path;
      quanqu_request in{sizeof(quanqu_request),
                        str(method),
                        str(full_path),
                        str(body),
                        str(channel_id),
                        str("test"),
                        p.data(),
                        p.size(),
                        q.data(),
                        q.size(),
                        h.data(),
                        h.size()};
      Reply reply{204, "", "", {}};
      Response out{&reply};
      char err[1024] = {0};
      if (r.fn(r.user, &in, reinterpret_cast<quanqu_response*>(&out), err, sizeof err) != QUANQU_OK)
        return Reply{502, "text/plain", err, {}};
      return reply;
    }
    return Reply{404, "text/plain", "no route " + method + " " + path, {}};
  }

 private:
  struct Route {
    std::string method;
    std::string pattern;
    quanqu_route_fn fn;
    void* user;
  };
  struct Response {
    Reply* reply;
  };

  static quanqu_str str(const std::string& s) { return quanqu_str{s.data(), s.size()}; }
  static std::string copy(quanqu_str s) { return s.size ? std::string(s.data, s.size) : std::string(); }
  static void fill(char* err, std::size_t cap, const std::string& m) {
    if (!err || !cap) return;
    std::size_t n = m.size() < cap - 1 ? m.size() : cap - 1;
    std::memcpy(err, m.data(), n);
    err[n] = '\0';
  }
  static std::vector<std::string> split(const std::string& path) {
    std::vector<std::string> out;
    std::size_t start = 1;
    while (start <= path.size()) {
      std::size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      out.push_back(path.substr(start, end - start));
      start = end + 1;
    }
    return out;
  }
  static bool match(const std::string& pattern, const std::string& path,
                    std::vector<std::pair<std::string, std::string>>& params) {
    if (pattern == "/" || path == "/") return pattern == path;
    auto ps = split(pattern), xs = split(path);
    if (ps.size() != xs.size()) return false;
    for (std::size_t i = 0; i < ps.size(); ++i) {
      if (ps[i].size() > 2 && ps[i].front() == '{' && ps[i].back() == '}') {
        if (xs[i].empty()) return false;
        params.emplace_back(ps[i].substr(1, ps[i].size() - 2), xs[i]);
      } else if (ps[i] != xs[i]) {
        return false;
      }
    }
    return true;
  }

  static FakeHost& self(void* ctx) { return *static_cast<FakeHost*>(ctx); }
  static void log_fn(void* ctx, quanqu_log_level level, quanqu_str message) {
    static const char* names[] = {"debug", "info", "warn", "error"};
    self(ctx).logs.push_back(std::string(names[level >= 0 && level <= 3 ? level : 3]) + ": " + copy(message));
  }
  static int64_t now_fn(void* ctx) { return self(ctx).now_ms; }
  static quanqu_status kv_get_fn(void* ctx, quanqu_str key, quanqu_string_sink sink, void* user, char*, size_t) {
    auto it = self(ctx).kv.find(copy(key));
    if (it == self(ctx).kv.end()) return QUANQU_ERR_NOT_FOUND;
    sink(user, it->second.data(), it->second.size());
    return QUANQU_OK;
  }
  static quanqu_status kv_put_fn(void* ctx, quanqu_str key, quanqu_str value, char* err, size_t cap) {
    if (key.size == 0 || key.size > 256 || value.size > 65536) {
      fill(err, cap, "bad key or value size");
      return QUANQU_ERR_INVALID;
    }
    self(ctx).kv[copy(key)] = copy(value);
    return QUANQU_OK;
  }
  static quanqu_status kv_delete_fn(void* ctx, quanqu_str key, char*, size_t) {
    self(ctx).kv.erase(copy(key));
    return QUANQU_OK;
  }
  static quanqu_status register_route_fn(void* ctx, quanqu_str method, quanqu_str pattern, quanqu_route_fn fn,
                                         void* user, char* err, size_t cap) {
    if (!self(ctx).starting_) {
      fill(err, cap, "routes can only be registered during start");
      return QUANQU_ERR_STATE;
    }
    std::string p = copy(pattern);
    if (p.empty() || p[0] != '/') {
      fill(err, cap, "pattern must start with '/'");
      return QUANQU_ERR_INVALID;
    }
    self(ctx).routes_.push_back({copy(method), p, fn, user});
    return QUANQU_OK;
  }
  static void response_set_fn(quanqu_response* r, int32_t status, quanqu_str content_type, quanqu_str body) {
    Reply* reply = reinterpret_cast<Response*>(r)->reply;
    reply->status = status;
    reply->content_type = copy(content_type);
    reply->body = copy(body);
  }
  static void response_add_header_fn(quanqu_response* r, quanqu_str name, quanqu_str value) {
    reinterpret_cast<Response*>(r)->reply->headers.emplace_back(copy(name), copy(value));
  }

  const quanqu_plugin_descriptor* descriptor_ = nullptr;
  quanqu_host table_{};
  void* instance_ = nullptr;
  bool starting_ = false;
  std::vector<Route> routes_;
};

}  // namespace quanqu::sdk::testing
