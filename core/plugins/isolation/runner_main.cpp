// quanqu-plugin-runner: loads one plugin library in its own process and serves the server's calls over a socket.
//
// Started by the server (never by hand) with its end of a socket pair on --fd. It limits itself
// (setrlimit, no new privileges, dies with its parent, no network or only its declared hosts) before it loads
// any plugin code, then turns each frame from the server into the C ABI call it stands for, and
// each host function the plugin calls into a frame to the server. See core/plugins/isolation/wire.h.
#include "plugins/isolation/connect_guard.h"
#include "plugins/isolation/elastic_pool.h"
#include "plugins/isolation/wire.h"

#include <quanqu/sdk/abi.h>

#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

// The runner's response handle: what a route handler fills, sent back in the reply.
struct quanqu_response {
  std::int32_t status = 204;
  std::string content_type;
  std::string body;
  quanqu::plugins::wire::Pairs headers;
};

namespace quanqu::plugins {
namespace {

using wire::HostOp;
using wire::Kind;
using wire::Reader;
using wire::Writer;

constexpr std::size_t kErrCap = 1024;

std::string text(quanqu_str s) {
  return s.size && s.data ? std::string(s.data, s.size) : std::string();
}
quanqu_str view(const std::string& s) {
  return quanqu_str{s.data(), s.size()};
}

void write_error(char* err, std::size_t cap, std::string_view message) noexcept {
  if (!err || cap == 0) return;
  std::size_t n = std::min(message.size(), cap - 1);
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

std::string message_from(const char* buffer, quanqu_status status) {
  std::size_t n = strnlen(buffer, kErrCap);
  if (n) return std::string(buffer, n);
  return "status " + std::to_string(status) + " without a message";
}

// The runner's state: one plugin, one connection.
struct Runner {
  std::unique_ptr<wire::Channel> channel;
  ElasticPool calls{256};
  void* library = nullptr;
  const quanqu_plugin_descriptor* descriptor = nullptr;
  void* instance = nullptr;
  quanqu_host table{};
  std::atomic<std::uint64_t> next_id{1};
  std::mutex mutex;  // guards pending and the registrations
  std::unordered_map<std::uint64_t, std::promise<std::string>> pending;
  struct Route {
    quanqu_route_fn fn;
    void* user;
  };
  struct Subscription {
    quanqu_event_fn fn;
    void* user;
  };
  struct Provider {
    quanqu_provider_fn fn;
    void* user;
  };
  std::vector<Route> routes;
  std::vector<Subscription> subscriptions;
  std::vector<Provider> providers;

  // A host call: sends it and waits for the server's reply. The server always answers while the
  // connection lives; when it ends, the runner exits (see serve()), so nothing waits forever.
  std::string host_call(std::string payload) {
    std::uint64_t id = next_id.fetch_add(1);
    std::future<std::string> answer;
    {
      std::lock_guard lock(mutex);
      answer = pending[id].get_future();
    }
    if (!channel->send(Kind::host_call, id, payload)) std::_Exit(0);  // the server is gone
    return answer.get();
  }
};

Runner* the_runner = nullptr;

Runner& runner(void*) {
  return *the_runner;
}

// A host call answered with the common reply: status, an optional value for the sink, a message.
quanqu_status common_call(Writer& w, quanqu_string_sink sink, void* sink_user, char* err, size_t err_cap) {
  std::string reply = the_runner->host_call(w.take());
  Reader r(reply);
  auto status = static_cast<quanqu_status>(r.i32());
  bool has_value = r.u8() != 0;
  std::string value = r.str();
  std::string message = r.str();
  if (r.failed()) {
    write_error(err, err_cap, "the server sent a malformed reply");
    return QUANQU_ERR_INTERNAL;
  }
  if (has_value && sink) sink(sink_user, value.data(), value.size());
  if (status != QUANQU_OK) write_error(err, err_cap, message);
  return status;
}

// A string sink that assigns into the std::string given as its user pointer.
void assign_sink(void* user, const char* data, std::size_t size) {
  static_cast<std::string*>(user)->assign(data, size);
}

Writer op(HostOp o) {
  Writer w;
  w.u8(static_cast<std::uint8_t>(o));
  return w;
}

// ---- the host table the plugin sees: each function forwards to the server ----

void host_log(void* ctx, quanqu_log_level level, quanqu_str message) {
  try {
    Writer w;
    w.i32(level).str(text(message));
    runner(ctx).channel->send(Kind::log, 0, w.take());
  } catch (...) {
  }
}

int64_t host_now_ms(void*) {
  try {
    Writer w = op(HostOp::now_ms);
    std::string reply = the_runner->host_call(w.take());
    Reader r(reply);
    return r.i64();
  } catch (...) {
    return 0;
  }
}

template <class Body>
quanqu_status guarded(char* err, size_t err_cap, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    write_error(err, err_cap, e.what());
  } catch (...) {
    write_error(err, err_cap, "unknown error");
  }
  return QUANQU_ERR_INTERNAL;
}

quanqu_status host_kv_get(void*, quanqu_str key, quanqu_string_sink sink, void* sink_user, char* err,
                          size_t err_cap) {
  return guarded(err, err_cap, [&] {
    Writer w = op(HostOp::kv_get);
    w.str(text(key));
    return common_call(w, sink, sink_user, err, err_cap);
  });
}

quanqu_status host_kv_put(void*, quanqu_str key, quanqu_str value, char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    Writer w = op(HostOp::kv_put);
    w.str(text(key)).str(text(value));
    return common_call(w, nullptr, nullptr, err, err_cap);
  });
}

quanqu_status host_kv_delete(void*, quanqu_str key, char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    Writer w = op(HostOp::kv_delete);
    w.str(text(key));
    return common_call(w, nullptr, nullptr, err, err_cap);
  });
}

// Registrations keep the function here and send the server an index it will call back with.
template <class List, class Entry>
quanqu_status register_remote(List& list, Entry entry, Writer& w, char* err, size_t err_cap) {
  std::uint64_t index;
  {
    std::lock_guard lock(the_runner->mutex);
    index = list.size();
    list.push_back(entry);
  }
  w.u64(index);
  // The server validates; a refused registration leaves an entry it will never call.
  return common_call(w, nullptr, nullptr, err, err_cap);
}

quanqu_status host_register_route(void*, quanqu_str method, quanqu_str pattern, quanqu_route_fn fn, void* user,
                                  char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    if (!fn) {
      write_error(err, err_cap, "no handler function");
      return QUANQU_ERR_INVALID;
    }
    Writer w = op(HostOp::register_route);
    w.str(text(method)).str(text(pattern));
    return register_remote(the_runner->routes, Runner::Route{fn, user}, w, err, err_cap);
  });
}

void host_response_set(quanqu_response* response, int32_t status, quanqu_str content_type, quanqu_str body) {
  try {
    if (!response) return;
    response->status = status;
    response->content_type = text(content_type);
    response->body = text(body);
  } catch (...) {
  }
}

void host_response_add_header(quanqu_response* response, quanqu_str name, quanqu_str value) {
  try {
    if (response) response->headers.emplace_back(text(name), text(value));
  } catch (...) {
  }
}

quanqu_status host_call(void*, quanqu_str operation, quanqu_str args, quanqu_string_sink sink, void* sink_user,
                        char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    Writer w = op(HostOp::call);
    w.str(text(operation)).str(text(args)).u8(args.size == 0 ? 1 : 0);
    return common_call(w, sink, sink_user, err, err_cap);
  });
}

quanqu_status host_subscribe(void*, quanqu_str event_type, quanqu_event_fn fn, void* user, char* err,
                             size_t err_cap) {
  return guarded(err, err_cap, [&] {
    if (!fn) {
      write_error(err, err_cap, "no handler function");
      return QUANQU_ERR_INVALID;
    }
    Writer w = op(HostOp::subscribe);
    w.str(text(event_type));
    return register_remote(the_runner->subscriptions, Runner::Subscription{fn, user}, w, err, err_cap);
  });
}

quanqu_status host_publish(void*, quanqu_str event_type, quanqu_str data, char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    Writer w = op(HostOp::publish);
    w.str(text(event_type)).str(text(data));
    return common_call(w, nullptr, nullptr, err, err_cap);
  });
}

quanqu_status host_register_provider(void*, const quanqu_provider* provider, char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    if (!provider || provider->size < offsetof(quanqu_provider, user) + sizeof(provider->user) || !provider->invoke) {
      write_error(err, err_cap, "incomplete provider (size, kind, name and invoke are required)");
      return QUANQU_ERR_INVALID;
    }
    Writer w = op(HostOp::register_provider);
    w.str(text(provider->kind)).str(text(provider->name));
    return register_remote(the_runner->providers, Runner::Provider{provider->invoke, provider->user}, w, err,
                           err_cap);
  });
}

quanqu_status host_channel_config(void*, quanqu_str channel_id, quanqu_string_sink sink, void* sink_user, char* err,
                                  size_t err_cap) {
  return guarded(err, err_cap, [&] {
    Writer w = op(HostOp::channel_config);
    w.str(text(channel_id));
    return common_call(w, sink, sink_user, err, err_cap);
  });
}

quanqu_status host_http_fetch(void*, const quanqu_http_request* request, quanqu_http_reply_fn reply, void* user,
                              char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    if (!request || request->size < offsetof(quanqu_http_request, timeout_ms) + sizeof(request->timeout_ms) ||
        !reply) {
      write_error(err, err_cap, "incomplete request");
      return QUANQU_ERR_INVALID;
    }
    Writer w = op(HostOp::http_fetch);
    w.str(text(request->method)).str(text(request->url)).u32(static_cast<std::uint32_t>(request->header_count));
    for (std::size_t i = 0; i < request->header_count; ++i)
      w.str(text(request->headers[i].name)).str(text(request->headers[i].value));
    w.str(text(request->body)).i32(request->timeout_ms);
    std::string answer = the_runner->host_call(w.take());
    Reader r(answer);
    auto status = static_cast<quanqu_status>(r.i32());
    std::string message = r.str();
    std::int32_t http_status = r.i32();
    wire::Pairs headers = r.pairs();
    std::string body = r.str();
    if (r.failed()) {
      write_error(err, err_cap, "the server sent a malformed reply");
      return QUANQU_ERR_INTERNAL;
    }
    if (status != QUANQU_OK) {
      write_error(err, err_cap, message);
      return status;
    }
    std::vector<quanqu_pair> pairs;
    pairs.reserve(headers.size());
    for (const auto& [n, v] : headers) pairs.push_back({view(n), view(v)});
    reply(user, http_status, pairs.data(), pairs.size(), view(body));
    return QUANQU_OK;
  });
}

void host_hmac_sha256(void*, quanqu_str key, quanqu_str message, uint8_t out[32]) {
  unsigned int length = 32;
  static const unsigned char empty = 0;
  const void* key_bytes = key.size ? static_cast<const void*>(key.data) : &empty;
  if (!HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size),
            message.size ? reinterpret_cast<const unsigned char*>(message.data) : &empty, message.size, out, &length))
    std::memset(out, 0, 32);
}

// ---- ABI 1.1: the key-value operations, forwarded like kv_put ----

quanqu_status host_kv_put_ttl(void*, quanqu_str key, quanqu_str value, int64_t ttl_ms, char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    Writer w = op(HostOp::kv_put_ttl);
    w.str(text(key)).str(text(value)).i64(ttl_ms);
    return common_call(w, nullptr, nullptr, err, err_cap);
  });
}

quanqu_status host_kv_incr(void*, quanqu_str key, int64_t delta, int64_t ttl_ms, int64_t* value_out, char* err,
                           size_t err_cap) {
  return guarded(err, err_cap, [&] {
    if (!value_out) {
      write_error(err, err_cap, "value_out must not be NULL");
      return QUANQU_ERR_INVALID;
    }
    Writer w = op(HostOp::kv_incr);
    w.str(text(key)).i64(delta).i64(ttl_ms);
    // The sum comes back as the common reply's value, in decimal.
    std::string sum;
    quanqu_status status = common_call(w, &assign_sink, &sum, err, err_cap);
    if (status != QUANQU_OK) return status;
    char* end = nullptr;
    errno = 0;
    long long parsed = std::strtoll(sum.c_str(), &end, 10);
    if (sum.empty() || errno != 0 || !end || *end != '\0') {
      write_error(err, err_cap, "the server sent a malformed reply");
      return QUANQU_ERR_INTERNAL;
    }
    *value_out = parsed;
    return QUANQU_OK;
  });
}

quanqu_status host_kv_cas(void*, quanqu_str key, const quanqu_str* expected, quanqu_str value, int64_t ttl_ms,
                          char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    Writer w = op(HostOp::kv_cas);
    w.str(text(key)).u8(expected ? 1 : 0).str(expected ? text(*expected) : std::string()).str(text(value)).i64(ttl_ms);
    return common_call(w, nullptr, nullptr, err, err_cap);
  });
}

quanqu_status host_kv_list(void*, quanqu_str prefix, quanqu_str cursor, int32_t limit, quanqu_string_sink sink,
                           void* sink_user, char* err, size_t err_cap) {
  return guarded(err, err_cap, [&] {
    Writer w = op(HostOp::kv_list);
    w.str(text(prefix)).str(text(cursor)).i32(limit);
    return common_call(w, sink, sink_user, err, err_cap);
  });
}

quanqu_status host_set_route_access(void*, quanqu_str method, quanqu_str pattern, int32_t access, char* err,
                                    size_t err_cap) {
  return guarded(err, err_cap, [&] {
    Writer w = op(HostOp::set_route_access);
    w.str(text(method)).str(text(pattern)).i32(access);
    return common_call(w, nullptr, nullptr, err, err_cap);
  });
}

// ---- the server's calls ----

std::string on_load(Reader& in) {
  std::string path = in.str();
  Writer out;
  dlerror();
  the_runner->library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!the_runner->library) {
    const char* detail = dlerror();
    out.u8(0).str(std::string("cannot load the library: ") + (detail ? detail : "unknown error"));
    return out.take();
  }
  auto entry = reinterpret_cast<quanqu_plugin_entry_fn>(dlsym(the_runner->library, QUANQU_PLUGIN_ENTRY_SYMBOL));
  if (!entry) {
    out.u8(0).str(std::string("the library exports no ") + QUANQU_PLUGIN_ENTRY_SYMBOL +
                  " symbol (export it with QUANQU_PLUGIN, see docs/sdk.md)");
    return out.take();
  }
  const quanqu_plugin_descriptor* d = nullptr;
  try {
    d = entry();
  } catch (...) {
    out.u8(0).str(std::string(QUANQU_PLUGIN_ENTRY_SYMBOL) + " threw");
    return out.take();
  }
  if (!d) {
    out.u8(0).str(std::string(QUANQU_PLUGIN_ENTRY_SYMBOL) + " returned no descriptor");
    return out.take();
  }
  the_runner->descriptor = d;
  // The first four fields are frozen; the rest is read only when the size says it is there.
  constexpr std::size_t v1_size = offsetof(quanqu_plugin_descriptor, stop) + sizeof(quanqu_plugin_descriptor::stop);
  bool complete = d->size >= v1_size && d->name && d->version && d->init && d->start && d->stop;
  out.u8(1).str("").u32(d->abi_major).u32(d->abi_minor).u8(complete ? 1 : 0);
  out.str(d->name ? d->name : "").str(complete ? d->version : "");
  return out.take();
}

// init and start: the status, the plugin's message, and what it threw (if it did).
std::string boot_reply(quanqu_status status, const char* err, std::string thrown) {
  Writer out;
  out.i32(status).str(status == QUANQU_OK ? std::string() : message_from(err, status)).str(thrown);
  return out.take();
}

template <class Call>
std::string boot(Call&& call) {
  char err[kErrCap] = {0};
  quanqu_status status = QUANQU_ERR_INTERNAL;
  std::string thrown;
  try {
    status = call(err);
  } catch (const std::exception& e) {
    thrown = e.what();
  } catch (...) {
    thrown = "an unknown exception";
  }
  return boot_reply(status, err, thrown);
}

std::string on_route(Reader& in) {
  std::uint64_t index = in.u64();
  std::string method = in.str(), path = in.str(), body = in.str(), channel_id = in.str(), request_id = in.str(),
              customer_id = in.str();
  wire::Pairs params = in.pairs(), query = in.pairs(), headers = in.pairs();
  Runner::Route route{nullptr, nullptr};
  {
    std::lock_guard lock(the_runner->mutex);
    if (index < the_runner->routes.size()) route = the_runner->routes[index];
  }
  Writer out;
  if (in.failed() || !route.fn) {
    out.str("the runner got a malformed route call");
    return out.take();
  }
  auto pairs = [](const wire::Pairs& p) {
    std::vector<quanqu_pair> v;
    v.reserve(p.size());
    for (const auto& [n, val] : p) v.push_back({view(n), view(val)});
    return v;
  };
  auto param_pairs = pairs(params), query_pairs = pairs(query), header_pairs = pairs(headers);
  quanqu_request request{};
  request.size = sizeof(quanqu_request);
  request.method = view(method);
  request.path = view(path);
  request.body = view(body);
  request.channel_id = view(channel_id);
  request.request_id = view(request_id);
  request.params = param_pairs.data();
  request.param_count = param_pairs.size();
  request.query = query_pairs.data();
  request.query_count = query_pairs.size();
  request.headers = header_pairs.data();
  request.header_count = header_pairs.size();
  request.customer_id = view(customer_id);
  quanqu_response response;
  char err[kErrCap] = {0};
  std::string failure;
  try {
    quanqu_status status = route.fn(route.user, &request, &response, err, sizeof err);
    if (status != QUANQU_OK) failure = message_from(err, status);
  } catch (const std::exception& e) {
    failure = std::string("threw: ") + e.what();
  } catch (...) {
    failure = "threw an unknown exception";
  }
  out.str(failure).i32(response.status).str(response.content_type).str(response.body).pairs(response.headers);
  return out.take();
}

std::string on_event(Reader& in) {
  std::uint64_t index = in.u64();
  std::string id = in.str(), type = in.str();
  std::int64_t occurred_at = in.i64();
  std::string data = in.str();
  Runner::Subscription sub{nullptr, nullptr};
  {
    std::lock_guard lock(the_runner->mutex);
    if (index < the_runner->subscriptions.size()) sub = the_runner->subscriptions[index];
  }
  Writer out;
  if (in.failed() || !sub.fn) {
    out.str("the runner got a malformed event call");
    return out.take();
  }
  quanqu_event event{sizeof(quanqu_event), view(id), view(type), occurred_at, view(data)};
  char err[kErrCap] = {0};
  std::string failure;
  try {
    quanqu_status status = sub.fn(sub.user, &event, err, sizeof err);
    if (status != QUANQU_OK) failure = message_from(err, status);
  } catch (const std::exception& e) {
    failure = std::string("threw: ") + e.what();
  } catch (...) {
    failure = "threw an unknown exception";
  }
  out.str(failure);
  return out.take();
}

std::string on_provider(Reader& in) {
  std::uint64_t index = in.u64();
  std::string operation = in.str(), input = in.str();
  Runner::Provider provider{nullptr, nullptr};
  {
    std::lock_guard lock(the_runner->mutex);
    if (index < the_runner->providers.size()) provider = the_runner->providers[index];
  }
  Writer out;
  if (in.failed() || !provider.fn) {
    out.str("the runner got a malformed provider call").str("");
    return out.take();
  }
  std::string answer;
  auto sink = [](void* user, const char* data, std::size_t size) {
    static_cast<std::string*>(user)->assign(data, size);
  };
  char err[kErrCap] = {0};
  std::string failure;
  try {
    quanqu_status status = provider.fn(provider.user, view(operation), view(input), sink, &answer, err, sizeof err);
    if (status != QUANQU_OK) failure = message_from(err, status);
  } catch (const std::exception& e) {
    failure = std::string("threw: ") + e.what();
  } catch (...) {
    failure = "threw an unknown exception";
  }
  out.str(failure).str(answer);
  return out.take();
}

// The CPU time one call may use on its thread, in ms (0: no limit); set once at start.
std::uint64_t cpu_ms_per_call = 0;

// While alive, a timer on the calling thread's CPU clock: past the budget it sends SIGXCPU to this
// thread, whose default action ends the runner (the server sees the signal and restarts it). Work
// a plugin hands to threads of its own is not counted; the call's deadline still bounds it.
class CpuBudget {
 public:
  explicit CpuBudget(std::uint64_t ms) {
    if (ms == 0) return;
    sigevent ev{};
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGXCPU;
    ev._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
    if (::timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &timer_) != 0) return;
    armed_ = true;
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(ms / 1000);
    spec.it_value.tv_nsec = static_cast<long>((ms % 1000) * 1'000'000);
    ::timer_settime(timer_, 0, &spec, nullptr);
  }
  ~CpuBudget() {
    if (armed_) ::timer_delete(timer_);
  }
  CpuBudget(const CpuBudget&) = delete;
  CpuBudget& operator=(const CpuBudget&) = delete;

 private:
  timer_t timer_{};
  bool armed_ = false;
};

void serve_call(wire::Frame frame) {
  Reader in(frame.payload);
  std::string reply;
  Runner& r = *the_runner;
  switch (frame.kind) {
    case Kind::init:
      reply = boot([&](char* err) {
        return r.descriptor ? r.descriptor->init(&r.table, &r.instance, err, kErrCap) : QUANQU_ERR_STATE;
      });
      break;
    case Kind::start:
      reply = boot([&](char* err) { return r.descriptor ? r.descriptor->start(r.instance, err, kErrCap) : QUANQU_ERR_STATE; });
      break;
    case Kind::stop:
      try {
        if (r.descriptor) r.descriptor->stop(r.instance);
      } catch (...) {
      }
      r.channel->send(Kind::reply, frame.id, "");
      std::_Exit(0);  // stop is the last call: no destructor of the plugin's runs after it
    case Kind::route: {
      CpuBudget budget(cpu_ms_per_call);
      reply = on_route(in);
      break;
    }
    case Kind::event: {
      CpuBudget budget(cpu_ms_per_call);
      reply = on_event(in);
      break;
    }
    case Kind::provider: {
      CpuBudget budget(cpu_ms_per_call);
      reply = on_provider(in);
      break;
    }
    default:
      return;
  }
  r.channel->send(Kind::reply, frame.id, reply);
}

// Reads frames until the server goes; replies wake the plugin threads waiting in host calls,
// calls run on their own threads (a route handler may make host calls whose replies this loop reads).
int serve() {
  wire::Frame frame;
  while (the_runner->channel->receive(frame)) {
    if (frame.kind == Kind::reply) {
      std::optional<std::promise<std::string>> waiter;
      {
        std::lock_guard lock(the_runner->mutex);
        auto it = the_runner->pending.find(frame.id);
        if (it != the_runner->pending.end()) {
          waiter = std::move(it->second);
          the_runner->pending.erase(it);
        }
      }
      if (waiter) waiter->set_value(std::move(frame.payload));
    } else if (frame.kind == Kind::load) {
      Reader in(frame.payload);
      the_runner->channel->send(Kind::reply, frame.id, on_load(in));
    } else {
      the_runner->calls.submit([f = std::move(frame)]() mutable { serve_call(std::move(f)); });
      frame = {};
    }
  }
  std::_Exit(0);  // the server is gone (or stopped us): nothing of the plugin may outlive it
}

void limit(int resource, std::uint64_t value) {
  rlimit l{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  if (::setrlimit(resource, &l) != 0) std::fprintf(stderr, "quanqu-plugin-runner: setrlimit failed\n");
}

}  // namespace
}  // namespace quanqu::plugins

int main(int argc, char** argv) {
  using namespace quanqu::plugins;
  int fd = -1;
  long parent = 0;
  std::uint64_t open_files = 256, address_space = 0, cpu_seconds = 0;
  bool deny_network = false;
  std::optional<std::vector<OutgoingHost>> outgoing;  // set: connect() reaches only these
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--fd") fd = std::atoi(next().c_str());
    else if (a == "--parent") parent = std::atol(next().c_str());
    else if (a == "--plugin") next();  // for ps and logs only
    else if (a == "--max-open-files") open_files = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--max-address-space") address_space = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--max-cpu-ms-per-call") cpu_ms_per_call = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--max-cpu-seconds") cpu_seconds = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--deny-network") deny_network = true;
    else if (a == "--outgoing") {
      outgoing.emplace();
      std::string list = next();
      for (std::size_t start = 0; start < list.size();) {
        std::size_t comma = std::min(list.find(',', start), list.size());
        if (auto host = parse_outgoing_host(std::string_view(list).substr(start, comma - start))) outgoing->push_back(*host);
        start = comma + 1;
      }
    }
  }
  if (fd < 0 || parent <= 0) {
    std::fprintf(stderr, "quanqu-plugin-runner is started by the quanqu server, not by hand\n");
    return 2;
  }
  // Die with the server, and never gain privileges (no set-uid binaries, no file capabilities).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) return 0;
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  ::prctl(PR_SET_DUMPABLE, 0);
  limit(RLIMIT_CORE, 0);
  limit(RLIMIT_NOFILE, open_files);
  if (address_space) limit(RLIMIT_AS, address_space);
  if (cpu_seconds) limit(RLIMIT_CPU, cpu_seconds);
  ::signal(SIGPIPE, SIG_IGN);

  static Runner r;
  the_runner = &r;
  r.channel = std::make_unique<wire::Channel>(fd);
  if (deny_network && ::unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
    std::string line = "the runner could not be denied the network (no user namespaces here): ";
    line += std::strerror(errno);
    Writer w;
    w.i32(QUANQU_LOG_WARN).str(line);
    r.channel->send(Kind::log, 0, w.take());
  }
  if (outgoing) guard_connections(std::move(*outgoing));
  quanqu_host& t = r.table;
  t.size = sizeof(quanqu_host);
  t.abi_major = QUANQU_SDK_ABI_MAJOR;
  t.abi_minor = QUANQU_SDK_ABI_MINOR;
  t.ctx = &r;
  t.log = &host_log;
  t.now_ms = &host_now_ms;
  t.kv_get = &host_kv_get;
  t.kv_put = &host_kv_put;
  t.kv_delete = &host_kv_delete;
  t.register_route = &host_register_route;
  t.response_set = &host_response_set;
  t.response_add_header = &host_response_add_header;
  t.call = &host_call;
  t.subscribe = &host_subscribe;
  t.publish = &host_publish;
  t.register_provider = &host_register_provider;
  t.channel_config = &host_channel_config;
  t.http_fetch = &host_http_fetch;
  t.hmac_sha256 = &host_hmac_sha256;
  t.kv_put_ttl = &host_kv_put_ttl;
  t.kv_incr = &host_kv_incr;
  t.kv_cas = &host_kv_cas;
  t.kv_list = &host_kv_list;
  t.set_route_access = &host_set_route_access;
  return serve();
}
