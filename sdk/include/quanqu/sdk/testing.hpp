// An in-memory host for unit-testing a plugin without a server: kv in a map, a settable clock, routes called directly.
#pragma once

/*
 * Header-only, for tests only. Link the plugin's sources into a test executable
 * (quanqu_add_plugin_test does, with the name and version from plugin.json) and give FakeHost the
 * plugin's entry function:
 *
 *   quanqu::sdk::testing::FakeHost host(&quanqu_plugin_entry_v1);   // checks the ABI, init, start
 *   auto reply = host.call("GET", "/hello");                          // path relative to /v1/plugins/<name>
 *   assert(reply.status == 200);
 *
 *   using quanqu::sdk::testing::RouteCall;                            // everything a request carries
 *   reply = host.call(RouteCall::post("/orders", R"({"sku":"TEE-1"})")
 *                         .on_channel("chan_kiosk")
 *                         .with_header("x-signature", "..."));
 *
 * It follows the server's contract (ABI check first, routes only during start, 502 for a failing
 * handler, the key-value rules of abi.h) but none of its storage: kv lives in `kv` (expiries in
 * `kv_expires_at`), time is `now_ms` (advance it to expire keys), log lines go to `logs`. Not
 * thread-safe.
 *
 * HMAC: Host::hmac_sha256_hex works out of the box; this header carries its own SHA-256 and
 * HMAC-SHA256 (testing::hmac_sha256, also for a test that signs what it sends), so neither the
 * plugin nor its test links a crypto library. Setting FakeHost::hmac_sha256 overrides it.
 */

#include "quanqu/sdk/abi.h"
#include "quanqu/sdk/http.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quanqu::sdk::testing {

// SHA-256 (FIPS 180-4) of `message`: 32 raw bytes. Plain and unhurried, for tests.
inline std::string sha256(std::string_view message) {
  static constexpr std::uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
  std::uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  auto rotr = [](std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  // The message, a 1 bit, zeros to 56 mod 64 bytes, and its length in bits (big endian).
  std::string padded(message);
  padded += static_cast<char>(0x80);
  while (padded.size() % 64 != 56) padded += '\0';
  const std::uint64_t bits = static_cast<std::uint64_t>(message.size()) * 8;
  for (int i = 7; i >= 0; --i) padded += static_cast<char>((bits >> (i * 8)) & 0xff);
  for (std::size_t block = 0; block < padded.size(); block += 64) {
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      const auto* b = reinterpret_cast<const unsigned char*>(padded.data() + block + 4 * i);
      w[i] = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
    }
    for (int i = 16; i < 64; ++i) {
      std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      std::uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  std::string digest;
  for (std::uint32_t word : h)
    for (int i = 3; i >= 0; --i) digest += static_cast<char>((word >> (i * 8)) & 0xff);
  return digest;
}

// HMAC-SHA256 (RFC 2104) of `message` under `key`: 32 raw bytes, what the server's hmac_sha256
// computes.
inline std::string hmac_sha256(std::string_view key, std::string_view message) {
  std::string block = key.size() > 64 ? sha256(key) : std::string(key);
  block.resize(64, '\0');
  std::string inner(64, '\0'), outer(64, '\0');
  for (std::size_t i = 0; i < 64; ++i) {
    inner[i] = static_cast<char>(block[i] ^ 0x36);
    outer[i] = static_cast<char>(block[i] ^ 0x5c);
  }
  return sha256(outer + sha256(inner + std::string(message)));
}

// `bytes` as lower-case hex digits.
inline std::string hex(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// A request to one of the plugin's routes, as FakeHost::call delivers it. `path` is relative to
// /v1/plugins/<name>, e.g. "/orders/42"; header names are lower case, as the server gives them.
// Set the fields, or chain: RouteCall::get("/hello").on_channel("chan_1").with_query("q", "x").
struct RouteCall {
  std::string method = "GET";
  std::string path = "/";
  std::string body;
  std::map<std::string, std::string> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string channel_id;   // the X-Publishable-Key's channel; empty: none
  std::string customer_id;  // the signed-in customer; empty: none
  std::string request_id = "test";
  // The merchant key the request carried, as the server would have resolved it: nothing, a key
  // issued for this plugin (opens Access::merchant routes), or the admin key (opens every route).
  enum class Caller { anonymous, plugin_key, admin } caller = Caller::anonymous;

  static RouteCall make(std::string method, std::string path, std::string body = "") {
    RouteCall r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.body = std::move(body);
    return r;
  }
  static RouteCall get(std::string path) { return make("GET", std::move(path)); }
  static RouteCall post(std::string path, std::string body = "") {
    return make("POST", std::move(path), std::move(body));
  }
  static RouteCall put(std::string path, std::string body = "") {
    return make("PUT", std::move(path), std::move(body));
  }
  static RouteCall patch(std::string path, std::string body = "") {
    return make("PATCH", std::move(path), std::move(body));
  }
  static RouteCall del(std::string path) { return make("DELETE", std::move(path)); }

  RouteCall& with_body(std::string b) {
    body = std::move(b);
    return *this;
  }
  RouteCall& with_query(std::string name, std::string value) {
    query[std::move(name)] = std::move(value);
    return *this;
  }
  RouteCall& with_header(std::string lower_case_name, std::string value) {
    headers.emplace_back(std::move(lower_case_name), std::move(value));
    return *this;
  }
  RouteCall& on_channel(std::string id) {
    channel_id = std::move(id);
    return *this;
  }
  RouteCall& as_customer(std::string id) {
    customer_id = std::move(id);
    return *this;
  }
};

class FakeHost {
 public:
  struct Reply {
    int status = 0;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  std::map<std::string, std::string> kv;              // the plugin's key-value store (live and expired keys)
  std::map<std::string, std::int64_t> kv_expires_at;  // key -> expiry (ms); a key without one never expires
  std::int64_t now_ms = 1'767'225'600'000;            // 2026-01-01T00:00:00Z; the clock of now_ms() and of expiry
  std::vector<std::string> logs;            // "info: message", ...

  // Answers Host::call: return the result, or throw FakeHost::Refused to answer a problem.
  std::function<nlohmann::json(const std::string& operation, const nlohmann::json& args)> services;
  struct Refused : std::runtime_error {
    Refused(int s, std::string c, std::string d)
        : std::runtime_error(c + ": " + d), status(s), code(std::move(c)), detail(std::move(d)) {}
    int status;
    std::string code;
    std::string detail;
  };
  std::vector<std::pair<std::string, nlohmann::json>> calls;      // every Host::call, in order
  std::map<std::string, nlohmann::json> channel_configs;         // channel id -> the plugin's config
  std::vector<std::pair<std::string, nlohmann::json>> published;  // events the plugin published
  // Answers Host::fetch (a test points it at a fake service); unset, every fetch is unavailable.
  std::function<HttpReply(const HttpRequest&)> fetch;
  // Overrides the MAC of Host::hmac_sha256_hex (32 raw bytes); unset, testing::hmac_sha256.
  std::function<std::string(const std::string& key, const std::string& message)> hmac_sha256;

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
    table_.call = &FakeHost::call_fn;
    table_.subscribe = &FakeHost::subscribe_fn;
    table_.publish = &FakeHost::publish_fn;
    table_.register_provider = &FakeHost::register_provider_fn;
    table_.channel_config = &FakeHost::channel_config_fn;
    table_.http_fetch = &FakeHost::http_fetch_fn;
    table_.hmac_sha256 = &FakeHost::hmac_fn;
    table_.kv_put_ttl = &FakeHost::kv_put_ttl_fn;
    table_.kv_incr = &FakeHost::kv_incr_fn;
    table_.kv_cas = &FakeHost::kv_cas_fn;
    table_.kv_list = &FakeHost::kv_list_fn;
    table_.set_route_access = &FakeHost::set_route_access_fn;
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

  // Delivers an event to the plugin's matching subscribers. Throws std::runtime_error with the
  // handler's message when one fails.
  void emit(const std::string& type, const nlohmann::json& data, const std::string& id = "evt_test") {
    std::string text = data.dump();
    for (const auto& sub : subscriptions_) {
      bool match = sub.pattern == "*" || sub.pattern == type ||
                   (sub.pattern.size() > 2 && sub.pattern.compare(sub.pattern.size() - 2, 2, ".*") == 0 &&
                    type.compare(0, sub.pattern.size() - 1, sub.pattern, 0, sub.pattern.size() - 1) == 0);
      if (!match) continue;
      quanqu_event e{sizeof(quanqu_event), str(id), str(type), now_ms, str(text)};
      char err[1024] = {0};
      if (sub.fn(sub.user, &e, err, sizeof err) != QUANQU_OK)
        throw std::runtime_error(std::string("event handler failed: ") + err);
    }
  }

  // Invokes a registered provider's operation, as the server would. Returns its JSON reply
  // (a refusal is {"refusal": {...}}); throws std::runtime_error when the provider fails.
  nlohmann::json invoke(const std::string& kind, const std::string& name, const std::string& operation,
                        const nlohmann::json& input) {
    for (const auto& p : providers_) {
      if (p.kind != kind || p.name != name) continue;
      std::string in = input.dump(), out;
      char err[1024] = {0};
      auto sink = [](void* user, const char* data, size_t size) { static_cast<std::string*>(user)->assign(data, size); };
      quanqu_status s = p.fn(p.user, str(operation), str(in), sink, &out, err, sizeof err);
      if (s != QUANQU_OK) throw std::runtime_error(std::string("provider failed: ") + err);
      return nlohmann::json::parse(out);
    }
    throw std::runtime_error("no " + kind + " provider named " + name);
  }

  // Calls the route matching request.method and request.path. No match is 404; a handler that
  // fails is 502 with its message as body.
  Reply call(const RouteCall& request) {
    for (const auto& r : routes_) {
      std::vector<std::pair<std::string, std::string>> params;
      if (r.method != request.method || !match(r.pattern, request.path, params)) continue;
      // The server's check of a protected route, before the handler (its 401s, as problem+json).
      if (r.access == QUANQU_ROUTE_ADMIN && request.caller != RouteCall::Caller::admin)
        return Reply{401, "application/problem+json", R"({"status":401,"code":"auth.admin_key_required"})", {}};
      if (r.access == QUANQU_ROUTE_MERCHANT && request.caller == RouteCall::Caller::anonymous)
        return Reply{401, "application/problem+json", R"({"status":401,"code":"auth.merchant_key_required"})", {}};
      std::vector<quanqu_pair> p, q, h;
      for (const auto& [n, v] : params) p.push_back({str(n), str(v)});
      for (const auto& [n, v] : request.query) q.push_back({str(n), str(v)});
      for (const auto& [n, v] : request.headers) h.push_back({str(n), str(v)});
      std::string full_path = "/v1/plugins/" + std::string(descriptor_->name) + request.path;
      quanqu_request in{sizeof(quanqu_request),
                        str(request.method),
                        str(full_path),
                        str(request.body),
                        str(request.channel_id),
                        str(request.request_id),
                        p.data(),
                        p.size(),
                        q.data(),
                        q.size(),
                        h.data(),
                        h.size(),
                        str(request.customer_id)};
      Reply reply{204, "", "", {}};
      Response out{&reply};
      char err[1024] = {0};
      if (r.fn(r.user, &in, reinterpret_cast<quanqu_response*>(&out), err, sizeof err) != QUANQU_OK)
        return Reply{502, "text/plain", err, {}};
      return reply;
    }
    return Reply{404, "text/plain", "no route " + request.method + " " + request.path, {}};
  }

  // Shorthand for a request with only a method, a path and a body.
  Reply call(const std::string& method, const std::string& path, const std::string& body = "") {
    RouteCall r;
    r.method = method;
    r.path = path;
    r.body = body;
    return call(r);
  }

  // The SDK 1.0 form, kept for existing tests: use call(RouteCall).
  [[deprecated("use FakeHost::call(RouteCall)")]] Reply call(
      const std::string& method, const std::string& path, const std::string& body,
      const std::map<std::string, std::string>& query, const std::string& channel_id = "",
      const std::vector<std::pair<std::string, std::string>>& headers = {}, const std::string& customer_id = "") {
    RouteCall r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.query = query;
    r.channel_id = channel_id;
    r.headers = headers;
    r.customer_id = customer_id;
    return call(r);
  }

 private:
  struct Route {
    std::string method;
    std::string pattern;
    quanqu_route_fn fn;
    void* user;
    int32_t access = QUANQU_ROUTE_OPEN;
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
  // The server's rules for keys and values (abi.h): sizes, UTF-8, no NUL.
  static bool valid_text(quanqu_str s, std::size_t min, std::size_t max) {
    if (s.size < min || s.size > max) return false;
    const auto* b = reinterpret_cast<const unsigned char*>(s.data);
    for (std::size_t i = 0; i < s.size;) {
      unsigned char c = b[i];
      std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      if (c == 0 || n == 0 || i + n > s.size) return false;
      for (std::size_t j = 1; j < n; ++j)
        if ((b[i + j] & 0xC0) != 0x80) return false;
      i += n;
    }
    return true;
  }
  static quanqu_status check_kv(quanqu_str key, const quanqu_str* value, std::int64_t ttl_ms, char* err,
                                std::size_t cap) {
    if (!valid_text(key, 1, 256) || (value && !valid_text(*value, 0, 65536))) {
      fill(err, cap, "keys must be 1..256 bytes and values at most 65536 bytes of UTF-8 without NUL");
      return QUANQU_ERR_INVALID;
    }
    if (ttl_ms < 0 || ttl_ms > QUANQU_KV_MAX_TTL_MS) {
      fill(err, cap, "a TTL must be 0 (none) to 366 days in ms");
      return QUANQU_ERR_INVALID;
    }
    return QUANQU_OK;
  }
  // The live value of `key`, dropping it when it has expired.
  const std::string* live(const std::string& key) {
    auto e = kv_expires_at.find(key);
    if (e != kv_expires_at.end() && e->second <= now_ms) {
      kv.erase(key);
      kv_expires_at.erase(e);
    }
    auto it = kv.find(key);
    return it == kv.end() ? nullptr : &it->second;
  }
  void store(const std::string& key, std::string value, std::int64_t ttl_ms) {
    kv[key] = std::move(value);
    if (ttl_ms > 0)
      kv_expires_at[key] = now_ms + ttl_ms;
    else
      kv_expires_at.erase(key);
  }

  static quanqu_status kv_get_fn(void* ctx, quanqu_str key, quanqu_string_sink sink, void* user, char* err,
                                 size_t cap) {
    if (check_kv(key, nullptr, 0, err, cap) != QUANQU_OK) return QUANQU_ERR_INVALID;
    const std::string* value = self(ctx).live(copy(key));
    if (!value) return QUANQU_ERR_NOT_FOUND;
    sink(user, value->data(), value->size());
    return QUANQU_OK;
  }
  static quanqu_status kv_put_fn(void* ctx, quanqu_str key, quanqu_str value, char* err, size_t cap) {
    return kv_put_ttl_fn(ctx, key, value, 0, err, cap);
  }
  static quanqu_status kv_delete_fn(void* ctx, quanqu_str key, char* err, size_t cap) {
    if (check_kv(key, nullptr, 0, err, cap) != QUANQU_OK) return QUANQU_ERR_INVALID;
    self(ctx).kv.erase(copy(key));
    self(ctx).kv_expires_at.erase(copy(key));
    return QUANQU_OK;
  }
  static quanqu_status kv_put_ttl_fn(void* ctx, quanqu_str key, quanqu_str value, int64_t ttl_ms, char* err,
                                     size_t cap) {
    if (check_kv(key, &value, ttl_ms, err, cap) != QUANQU_OK) return QUANQU_ERR_INVALID;
    self(ctx).store(copy(key), copy(value), ttl_ms);
    return QUANQU_OK;
  }
  static quanqu_status kv_incr_fn(void* ctx, quanqu_str key, int64_t delta, int64_t ttl_ms, int64_t* out, char* err,
                                  size_t cap) {
    if (check_kv(key, nullptr, ttl_ms, err, cap) != QUANQU_OK) return QUANQU_ERR_INVALID;
    FakeHost& h = self(ctx);
    std::string k = copy(key);
    const std::string* current = h.live(k);
    long long base = 0;
    if (current) {
      const std::string& v = *current;
      std::size_t digits = v.size() - (!v.empty() && v[0] == '-' ? 1 : 0);
      bool integer =
          digits >= 1 && digits <= 19 && v.find_first_not_of("0123456789", v.size() - digits) == std::string::npos;
      try {
        if (integer) base = std::stoll(v);
      } catch (const std::exception&) {
        integer = false;
      }
      if (!integer) {
        fill(err, cap, "the value of the key is not a decimal 64-bit integer");
        return QUANQU_ERR_INVALID;
      }
    }
    constexpr long long kMax = std::numeric_limits<long long>::max(), kMin = std::numeric_limits<long long>::min();
    if ((delta > 0 && base > kMax - delta) || (delta < 0 && base < kMin - delta)) {
      fill(err, cap, "the increment overflows a 64-bit integer");
      return QUANQU_ERR_INVALID;
    }
    long long sum = base + delta;
    if (current)
      h.kv[k] = std::to_string(sum);  // an existing key keeps its expiry
    else
      h.store(k, std::to_string(sum), ttl_ms);
    if (out) *out = sum;
    return QUANQU_OK;
  }
  static quanqu_status kv_cas_fn(void* ctx, quanqu_str key, const quanqu_str* expected, quanqu_str value,
                                 int64_t ttl_ms, char* err, size_t cap) {
    if (check_kv(key, &value, ttl_ms, err, cap) != QUANQU_OK) return QUANQU_ERR_INVALID;
    FakeHost& h = self(ctx);
    std::string k = copy(key);
    const std::string* current = h.live(k);
    bool matches = expected ? (current && *current == copy(*expected)) : current == nullptr;
    if (!matches) {
      fill(err, cap, "no swap: the current value differs");
      return QUANQU_ERR_STATE;
    }
    h.store(k, copy(value), ttl_ms);
    return QUANQU_OK;
  }
  static quanqu_status kv_list_fn(void* ctx, quanqu_str prefix, quanqu_str cursor, int32_t limit,
                                  quanqu_string_sink sink, void* user, char* err, size_t cap) {
    if ((prefix.size && !valid_text(prefix, 0, 256)) || prefix.size > 256 || cursor.size > 256 ||
        (cursor.size && !valid_text(cursor, 0, 256)) || limit < 1 || limit > QUANQU_KV_LIST_MAX_LIMIT) {
      fill(err, cap, "prefix and cursor are 0..256 bytes of UTF-8, limit 1..1000");
      return QUANQU_ERR_INVALID;
    }
    FakeHost& h = self(ctx);
    std::string p = copy(prefix), c = copy(cursor);
    nlohmann::json items = nlohmann::json::array();
    nlohmann::json next = nullptr;
    std::size_t value_bytes = 0;
    // std::map<std::string> orders by bytes (char_traits compares as unsigned char), like the server.
    for (auto it = c.empty() ? h.kv.lower_bound(p) : h.kv.upper_bound(c); it != h.kv.end();) {
      const std::string k = it->first;
      ++it;  // before live(), which may erase k
      if (k.compare(0, p.size(), p) != 0) {
        if (k > p) break;
        continue;
      }
      const std::string* value = h.live(k);
      if (!value) continue;
      // Full, or past 1 MiB of values: another key matches, so the page says where to go on.
      if (items.size() == static_cast<std::size_t>(limit) || value_bytes > (std::size_t{1} << 20)) {
        next = items.back()["key"];
        break;
      }
      value_bytes += value->size();
      auto e = h.kv_expires_at.find(k);
      items.push_back(
          {{"key", k},
           {"value", *value},
           {"expires_at_ms", e == h.kv_expires_at.end() ? nlohmann::json(nullptr) : nlohmann::json(e->second)}});
    }
    std::string text = nlohmann::json{{"items", items}, {"next_cursor", next}}.dump();
    sink(user, text.data(), text.size());
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
    self(ctx).routes_.push_back({copy(method), p, fn, user, QUANQU_ROUTE_OPEN});
    return QUANQU_OK;
  }
  static quanqu_status set_route_access_fn(void* ctx, quanqu_str method, quanqu_str pattern, int32_t access, char* err,
                                           size_t cap) {
    if (!self(ctx).starting_) {
      fill(err, cap, "route access can only be set during start");
      return QUANQU_ERR_STATE;
    }
    if (access != QUANQU_ROUTE_OPEN && access != QUANQU_ROUTE_MERCHANT && access != QUANQU_ROUTE_ADMIN) {
      fill(err, cap, "unknown access");
      return QUANQU_ERR_INVALID;
    }
    for (auto& r : self(ctx).routes_)
      if (r.method == copy(method) && r.pattern == copy(pattern)) {
        r.access = access;
        return QUANQU_OK;
      }
    fill(err, cap, "not a registered route");
    return QUANQU_ERR_NOT_FOUND;
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

  static quanqu_status call_fn(void* ctx, quanqu_str operation, quanqu_str args, quanqu_string_sink sink, void* user,
                               char* err, size_t cap) {
    FakeHost& h = self(ctx);
    std::string op = copy(operation);
    nlohmann::json in = nlohmann::json::parse(copy(args), nullptr, false);
    h.calls.emplace_back(op, in);
    std::string out;
    quanqu_status status = QUANQU_OK;
    try {
      if (!h.services) throw Refused{404, "operation.unknown", "no fake answer for " + op};
      out = h.services(op, in).dump();
    } catch (const Refused& r) {
      out = nlohmann::json{{"status", r.status}, {"code", r.code}, {"detail", r.detail}}.dump();
      fill(err, cap, r.code + ": " + r.detail);
      status = r.status == 404 ? QUANQU_ERR_NOT_FOUND : r.status >= 500 ? QUANQU_ERR_UNAVAILABLE : QUANQU_ERR_INVALID;
    } catch (const std::exception& e) {  // a broken fake: reported like the real host's internal error
      out = nlohmann::json{{"status", 500}, {"code", "internal"}, {"detail", e.what()}}.dump();
      fill(err, cap, e.what());
      status = QUANQU_ERR_INTERNAL;
    }
    if (sink) sink(user, out.data(), out.size());
    return status;
  }
  static quanqu_status subscribe_fn(void* ctx, quanqu_str type, quanqu_event_fn fn, void* user, char* err, size_t cap) {
    if (!self(ctx).starting_) {
      fill(err, cap, "subscriptions can only be made during start");
      return QUANQU_ERR_STATE;
    }
    self(ctx).subscriptions_.push_back({copy(type), fn, user});
    return QUANQU_OK;
  }
  static quanqu_status publish_fn(void* ctx, quanqu_str type, quanqu_str data, char* err, size_t cap) {
    std::string t = copy(type);
    std::string prefix = std::string(self(ctx).descriptor_->name) + ".";
    if (t.compare(0, prefix.size(), prefix) != 0) {
      fill(err, cap, "event types of a plugin start with '" + prefix + "'");
      return QUANQU_ERR_INVALID;
    }
    self(ctx).published.emplace_back(t, nlohmann::json::parse(copy(data)));
    return QUANQU_OK;
  }
  static quanqu_status register_provider_fn(void* ctx, const quanqu_provider* p, char* err, size_t cap) {
    if (!self(ctx).starting_) {
      fill(err, cap, "providers can only be registered during start");
      return QUANQU_ERR_STATE;
    }
    self(ctx).providers_.push_back({copy(p->kind), copy(p->name), p->invoke, p->user});
    return QUANQU_OK;
  }
  static quanqu_status channel_config_fn(void* ctx, quanqu_str channel, quanqu_string_sink sink, void* user, char*,
                                         size_t) {
    auto it = self(ctx).channel_configs.find(copy(channel));
    if (it == self(ctx).channel_configs.end()) return QUANQU_ERR_NOT_FOUND;
    std::string text = it->second.dump();
    sink(user, text.data(), text.size());
    return QUANQU_OK;
  }

  static quanqu_status http_fetch_fn(void* ctx, const quanqu_http_request* in, quanqu_http_reply_fn reply, void* user,
                                     char* err, size_t cap) {
    FakeHost& h = self(ctx);
    if (!h.fetch) {
      fill(err, cap, "FakeHost.fetch is not set");
      return QUANQU_ERR_UNAVAILABLE;
    }
    HttpRequest request;
    request.method = copy(in->method);
    request.url = copy(in->url);
    for (size_t i = 0; i < in->header_count; ++i)
      request.headers.emplace_back(copy(in->headers[i].name), copy(in->headers[i].value));
    request.body = copy(in->body);
    request.timeout_ms = in->timeout_ms;
    HttpReply r;
    try {
      r = h.fetch(request);
    } catch (const std::exception& e) {
      fill(err, cap, e.what());
      return QUANQU_ERR_UNAVAILABLE;
    }
    std::vector<quanqu_pair> hs;
    for (const auto& [n, v] : r.headers) hs.push_back({str(n), str(v)});
    reply(user, r.status, hs.data(), hs.size(), str(r.body));
    return QUANQU_OK;
  }
  static void hmac_fn(void* ctx, quanqu_str key, quanqu_str message, uint8_t out[32]) {
    FakeHost& h = self(ctx);
    std::string mac =
        h.hmac_sha256 ? h.hmac_sha256(copy(key), copy(message)) : testing::hmac_sha256(copy(key), copy(message));
    std::memset(out, 0, 32);
    std::memcpy(out, mac.data(), mac.size() < 32 ? mac.size() : 32);
  }

  struct Subscription {
    std::string pattern;
    quanqu_event_fn fn;
    void* user;
  };
  struct Provider {
    std::string kind;
    std::string name;
    quanqu_provider_fn fn;
    void* user;
  };
  std::vector<Subscription> subscriptions_;
  std::vector<Provider> providers_;
  const quanqu_plugin_descriptor* descriptor_ = nullptr;
  quanqu_host table_{};
  void* instance_ = nullptr;
  bool starting_ = false;
  std::vector<Route> routes_;
};

// Where the manifest at `path` disagrees with the library's own descriptor (name, version,
// sdk_abi, and a "library" other than "<name>.so"); empty when they agree. The server refuses a
// plugin whose manifest and library disagree, so a plugin's tests should assert this is empty.
inline std::vector<std::string> manifest_mismatches(const std::string& path, quanqu_plugin_entry_fn entry) {
  std::vector<std::string> out;
  std::ifstream in(path);
  nlohmann::json m = in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json();
  if (!m.is_object()) return {"cannot read " + path + " as a JSON object"};
  const quanqu_plugin_descriptor* d = entry ? entry() : nullptr;
  if (!d) return {"the entry function returned no descriptor"};
  auto text = [&](const char* key) { return m.contains(key) && m[key].is_string() ? m[key].get<std::string>() : ""; };
  std::string abi = std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor);
  if (text("name") != d->name) out.push_back("name: manifest '" + text("name") + "', library '" + d->name + "'");
  if (text("version") != d->version)
    out.push_back("version: manifest '" + text("version") + "', library '" + d->version + "'");
  if (text("sdk_abi") != abi) out.push_back("sdk_abi: manifest '" + text("sdk_abi") + "', library '" + abi + "'");
  std::string library = m.contains("library") ? text("library") : std::string(d->name) + ".so";
  if (library != std::string(d->name) + ".so")
    out.push_back("library: manifest '" + library + "', built as '" + d->name + ".so'");
  return out;
}

}  // namespace quanqu::sdk::testing
