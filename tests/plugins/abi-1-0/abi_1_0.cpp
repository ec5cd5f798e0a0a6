// Fixture plugin "abi-1-0": built against the frozen SDK ABI 1.0 header only; it must keep working on newer servers.
//
// It uses the C boundary directly (the 1.0 C++ layer is not kept), and only what 1.0 had: the
// host table up to hmac_sha256, the 1.0 request struct. Routes:
//   GET  /hello       {"plugin_abi": "1.0", "host_abi": "<major>.<minor>", "host_table_grew": true|false}
//   PUT  /kv/{key}    the body as the value (kv_put)
//   GET  /kv/{key}    the value (kv_get), 404 when absent
//   POST /sign        {"mac": hex HMAC-SHA256(key "k", the body)} through the host's hmac_sha256
#include "abi_1_0.h"

#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#if QUANQU_SDK_ABI_MAJOR != 1 || QUANQU_SDK_ABI_MINOR != 0
#error "this fixture must be compiled against the frozen ABI 1.0 header"
#endif

namespace {

struct State {
  const quanqu_host* host;
};

quanqu_str view(const std::string& s) {
  return quanqu_str{s.data(), s.size()};
}
std::string text(quanqu_str s) {
  return s.size ? std::string(s.data, s.size) : std::string();
}
void fail(char* err, size_t cap, const char* message) {
  if (err && cap) std::snprintf(err, cap, "%s", message);
}

std::string param(const quanqu_request* r, const char* name) {
  for (size_t i = 0; i < r->param_count; ++i)
    if (text(r->params[i].name) == name) return text(r->params[i].value);
  return "";
}

void reply(const State* s, quanqu_response* out, int status, const std::string& type, const std::string& body) {
  s->host->response_set(out, status, view(type), view(body));
}

quanqu_status hello(void* user, const quanqu_request*, quanqu_response* out, char*, size_t) {
  const auto* s = static_cast<const State*>(user);
  std::string body = "{\"plugin_abi\":\"1.0\",\"host_abi\":\"" + std::to_string(s->host->abi_major) + "." +
                     std::to_string(s->host->abi_minor) +
                     "\",\"host_table_grew\":" + (s->host->size > sizeof(quanqu_host) ? "true" : "false") + "}";
  reply(s, out, 200, "application/json", body);
  return QUANQU_OK;
}

quanqu_status put(void* user, const quanqu_request* request, quanqu_response*, char* err, size_t cap) {
  const auto* s = static_cast<const State*>(user);
  std::string key = param(request, "key");
  return s->host->kv_put(s->host->ctx, view(key), request->body, err, cap);  // 204 when it worked
}

quanqu_status get(void* user, const quanqu_request* request, quanqu_response* out, char* err, size_t cap) {
  const auto* s = static_cast<const State*>(user);
  std::string key = param(request, "key"), value;
  auto sink = [](void* target, const char* data, size_t size) {
    static_cast<std::string*>(target)->assign(data, size);
  };
  quanqu_status status = s->host->kv_get(s->host->ctx, view(key), sink, &value, err, cap);
  if (status == QUANQU_ERR_NOT_FOUND) {
    reply(s, out, 404, "text/plain", "no such key");
    return QUANQU_OK;
  }
  if (status != QUANQU_OK) return status;
  reply(s, out, 200, "text/plain", value);
  return QUANQU_OK;
}

quanqu_status sign(void* user, const quanqu_request* request, quanqu_response* out, char*, size_t) {
  const auto* s = static_cast<const State*>(user);
  uint8_t mac[32];
  s->host->hmac_sha256(s->host->ctx, view("k"), request->body, mac);
  std::string hex;
  static const char digits[] = "0123456789abcdef";
  for (uint8_t b : mac) {
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  reply(s, out, 200, "application/json", "{\"mac\":\"" + hex + "\"}");
  return QUANQU_OK;
}

quanqu_status init(const quanqu_host* host, void** instance, char* err, size_t cap) {
  if (!host || host->size < offsetof(quanqu_host, hmac_sha256) + sizeof(host->hmac_sha256)) {
    fail(err, cap, "the host table is smaller than SDK ABI 1.0 requires");
    return QUANQU_ERR_INVALID;
  }
  auto* s = new (std::nothrow) State{host};
  if (!s) {
    fail(err, cap, "out of memory");
    return QUANQU_ERR_INTERNAL;
  }
  *instance = s;
  return QUANQU_OK;
}

quanqu_status start(void* instance, char* err, size_t cap) {
  auto* s = static_cast<State*>(instance);
  struct {
    const char* method;
    const char* pattern;
    quanqu_route_fn fn;
  } routes[] = {
      {"GET", "/hello", &hello}, {"PUT", "/kv/{key}", &put}, {"GET", "/kv/{key}", &get}, {"POST", "/sign", &sign}};
  for (const auto& r : routes) {
    quanqu_status status = s->host->register_route(s->host->ctx, quanqu_str{r.method, std::strlen(r.method)},
                                                   quanqu_str{r.pattern, std::strlen(r.pattern)}, r.fn, s, err, cap);
    if (status != QUANQU_OK) return status;
  }
  return QUANQU_OK;
}

void stop(void* instance) {
  delete static_cast<State*>(instance);
}

}  // namespace

extern "C" QUANQU_SDK_EXPORT const quanqu_plugin_descriptor* quanqu_plugin_entry_v1(void) {
  static const quanqu_plugin_descriptor d = {QUANQU_SDK_ABI_MAJOR,
                                             QUANQU_SDK_ABI_MINOR,
                                             sizeof(quanqu_plugin_descriptor),
                                             QUANQU_PLUGIN_NAME,
                                             QUANQU_PLUGIN_VERSION,
                                             &init,
                                             &start,
                                             &stop};
  return &d;
}
