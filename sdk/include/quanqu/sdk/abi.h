/* The plugin ABI: the plain C boundary between the Quanqu server and a plugin (stable, see docs/sdk.md). */
#ifndef QUANQU_SDK_ABI_H
#define QUANQU_SDK_ABI_H

/*
 * Everything that crosses between the server (the "host") and a plugin library is declared in
 * this file, in C: plain structs, integer status codes and function pointers. No C++ type, no
 * exception and no allocator crosses the boundary, so a plugin does not depend on the compiler,
 * standard library or Boost version the server was built with. Partners normally write C++
 * against quanqu/sdk/plugin.hpp, a header-only layer over this file.
 *
 * Versioning (the full policy is docs/sdk.md):
 *  - QUANQU_SDK_ABI_MAJOR changes when anything here changes incompatibly (a field moves or
 *    changes type, a function changes signature or meaning). The host refuses a plugin built for
 *    another major.
 *  - QUANQU_SDK_ABI_MINOR grows when something is added: a function pointer appended to
 *    quanqu_host, a field appended to a struct, a new status code. The host refuses a plugin
 *    built for a newer minor than its own (it would lack what the plugin expects); an older
 *    minor is accepted.
 *  - Structs only grow at the end, and each one that can grow starts with its `size` (the
 *    sizeof the writer was compiled with), so a reader checks `size` before touching a field
 *    added in a later minor.
 *  - The entry symbol's name and the first four fields of quanqu_plugin_descriptor never change,
 *    in any major: that is what lets the host read a plugin's version and refuse it cleanly.
 *
 * Ownership: every pointer below says who owns it and how long it lives. The rule of thumb is
 * that whoever allocates frees, and that memory handed to a callback is borrowed for the call.
 *
 * Errors: functions return a quanqu_status (0 is success). Functions that can fail with an
 * explanation take a caller-owned buffer (`err`, `err_cap`) and write a NUL-terminated,
 * possibly truncated, UTF-8 message into it. Nothing throws across the boundary, in either
 * direction: the host catches around every call into a plugin, and the C++ layer catches around
 * every call from the host.
 *
 * Threads: route handlers may be called concurrently from several server threads. Every host
 * function is thread-safe. init, start and stop are called once each, from one thread.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QUANQU_SDK_ABI_MAJOR 1
#define QUANQU_SDK_ABI_MINOR 0

/* The one symbol a plugin library exports. Its name is frozen across all ABI versions. */
#define QUANQU_PLUGIN_ENTRY_SYMBOL "quanqu_plugin_entry_v1"

/* Marks a symbol as exported from a library built with hidden visibility. */
#if defined(_WIN32)
#define QUANQU_SDK_EXPORT __declspec(dllexport)
#else
#define QUANQU_SDK_EXPORT __attribute__((visibility("default")))
#endif

/* Status codes. New codes may be added in a minor version; treat an unknown non-zero code as
 * QUANQU_ERR_INTERNAL. */
typedef int32_t quanqu_status;
#define QUANQU_OK 0
#define QUANQU_ERR_NOT_FOUND 1   /* the key (or thing) does not exist */
#define QUANQU_ERR_INVALID 2     /* bad argument: empty or too long key, malformed pattern, ... */
#define QUANQU_ERR_UNAVAILABLE 3 /* transient failure (database busy or down); may be retried */
#define QUANQU_ERR_INTERNAL 4    /* a bug or a broken dependency */
#define QUANQU_ERR_STATE 5       /* not allowed now (e.g. register_route after start returned) */
#define QUANQU_ERR_PLUGIN 6      /* returned by a plugin callback that failed (or threw) */

/* Log levels for quanqu_host.log. */
typedef int32_t quanqu_log_level;
#define QUANQU_LOG_DEBUG 0
#define QUANQU_LOG_INFO 1
#define QUANQU_LOG_WARN 2
#define QUANQU_LOG_ERROR 3

/* A string as pointer and length (bytes, UTF-8, not necessarily NUL-terminated). A view: it never
 * owns its bytes; each use says who does and for how long they stay valid. data may be NULL
 * only when size is 0. */
typedef struct quanqu_str {
  const char* data;
  size_t size;
} quanqu_str;

/* A name/value pair of strings (a header, a query or path parameter). Borrowed like quanqu_str. */
typedef struct quanqu_pair {
  quanqu_str name;
  quanqu_str value;
} quanqu_pair;

/* Receives a string the host hands out (e.g. a value read by kv_get). The bytes are owned by the
 * host and valid only during the call: copy them. Called at most once per host call. */
typedef void (*quanqu_string_sink)(void* sink_user, const char* data, size_t size);

/* A request to a plugin route, as the host gives it to a route handler. Owned by the host; the
 * struct and everything it points to are valid only during the handler call. Grows at the end. */
typedef struct quanqu_request {
  size_t size;               /* sizeof(quanqu_request) as the host knows it */
  quanqu_str method;         /* upper case: "GET", "POST", ... */
  quanqu_str path;           /* the full, percent-decoded path: "/v1/plugins/<name>/orders/42" */
  quanqu_str body;           /* raw request body */
  quanqu_str channel_id;     /* the channel of the X-Publishable-Key header; empty when none was sent */
  quanqu_str request_id;     /* the server's request id (for logs) */
  const quanqu_pair* params; /* values of the {placeholders} of the route pattern */
  size_t param_count;
  const quanqu_pair* query; /* decoded query parameters */
  size_t query_count;
  const quanqu_pair* headers; /* names in lower case, in the order received */
  size_t header_count;
} quanqu_request;

/* The response being built for a route handler. Opaque, owned by the host, valid during the
 * handler call only; filled through quanqu_host.response_set / response_add_header, which copy
 * what they are given. A handler that returns QUANQU_OK without setting it replies 204. */
typedef struct quanqu_response quanqu_response;

/* A route handler. `user` is the pointer given to register_route. Returns QUANQU_OK with the
 * response filled in, or an error code with a message in err (the host then answers 502
 * problem+json, code "plugin_error", naming the plugin). Must not throw. */
typedef quanqu_status (*quanqu_route_fn)(void* user, const quanqu_request* request, quanqu_response* response,
                                         char* err, size_t err_cap);

/* What the host offers one plugin. Owned by the host; the pointer given to init stays valid, and
 * its functions callable, until the plugin's stop callback has returned. Every function takes
 * `ctx` (this struct's ctx field) first; that is how the host knows which plugin calls, so the
 * key-value store and the routes are scoped to the plugin.
 *
 * Growth-only: new functions are appended in later minors. Before calling a function added
 * after ABI 1.0, check `size` (QUANQU_HOST_HAS(host, field)). */
typedef struct quanqu_host {
  size_t size;        /* sizeof(quanqu_host) as the host was compiled */
  uint32_t abi_major; /* the host's QUANQU_SDK_ABI_MAJOR */
  uint32_t abi_minor; /* the host's QUANQU_SDK_ABI_MINOR */
  void* ctx;          /* opaque, owned by the host: pass it back as first argument */

  /* ---- ABI 1.0 ---- */

  /* Writes a log line attributed to the plugin. `message` is borrowed for the call. */
  void (*log)(void* ctx, quanqu_log_level level, quanqu_str message);

  /* The host's clock: milliseconds since the Unix epoch (tests may run a fake clock). */
  int64_t (*now_ms)(void* ctx);

  /* The plugin's own key-value store, persisted in the server's database and invisible to other
   * plugins. Keys are 1..256 bytes, values at most 65536 bytes; any bytes, UTF-8 recommended.
   * kv_get calls `sink` once with the value and returns QUANQU_OK, or returns
   * QUANQU_ERR_NOT_FOUND without calling it. kv_put inserts or replaces. kv_delete of an absent
   * key is QUANQU_OK. Each call is its own transaction. */
  quanqu_status (*kv_get)(void* ctx, quanqu_str key, quanqu_string_sink sink, void* sink_user, char* err,
                          size_t err_cap);
  quanqu_status (*kv_put)(void* ctx, quanqu_str key, quanqu_str value, char* err, size_t err_cap);
  quanqu_status (*kv_delete)(void* ctx, quanqu_str key, char* err, size_t err_cap);

  /* Registers a route, only during start (QUANQU_ERR_STATE afterwards). `method` is an upper
   * case HTTP method; `pattern` starts with "/" and is relative to /v1/plugins/<plugin name>;
   * a segment "{name}" matches one path segment and arrives in request->params. `fn` and `user`
   * are owned by the plugin and must stay valid until stop returns. A duplicate method+pattern
   * is QUANQU_ERR_INVALID. The host copies method and pattern. */
  quanqu_status (*register_route)(void* ctx, quanqu_str method, quanqu_str pattern, quanqu_route_fn fn, void* user,
                                  char* err, size_t err_cap);

  /* Fill the response of a route handler (only during that handler's call). The host copies
   * the strings. response_set may be called more than once; the last call wins. */
  void (*response_set)(quanqu_response* response, int32_t status, quanqu_str content_type, quanqu_str body);
  void (*response_add_header)(quanqu_response* response, quanqu_str name, quanqu_str value);

  /* ---- Reserved for later minors (appended here, in this order, when they arrive) ----
   *  subscribe_event(ctx, event_type, fn, user, ...)        domain events delivered in process
   *  register_provider(ctx, kind, name, vtable, user, ...)  payment, fulfilment, channel
   *                                                          adapter, size advisor providers
   *  catalog / stock / customer reads, cart and order creation through the core services
   *  channel_config(ctx, channel_id, sink, ...)             the plugin's per-channel config
   * Until then a plugin must not read past `size`. */
} quanqu_host;

/* True when `host` (a const quanqu_host*) has the function pointer `field`, i.e. the host was
 * built for an ABI minor that includes it. */
#define QUANQU_HOST_HAS(host, field) \
  ((host)->size >= offsetof(quanqu_host, field) + sizeof((host)->field) && (host)->field != NULL)

/* What a plugin library declares about itself; returned by the entry symbol. Owned by the plugin
 * (normally a static object); it and the strings it points to must stay valid while the library
 * is loaded. The first four fields are frozen for all ABI versions; later minors append. */
typedef struct quanqu_plugin_descriptor {
  uint32_t abi_major; /* QUANQU_SDK_ABI_MAJOR the plugin was compiled with */
  uint32_t abi_minor; /* QUANQU_SDK_ABI_MINOR the plugin was compiled with */
  size_t size;        /* sizeof(quanqu_plugin_descriptor) as the plugin was compiled */
  const char* name;   /* NUL-terminated; must equal the manifest's name */

  const char* version; /* NUL-terminated; the plugin's own version, e.g. "1.2.0" */

  /* Creates the plugin's state. `host` is valid until stop returns. On success stores an
   * opaque pointer (owned by the plugin, freed by stop) in *instance and returns QUANQU_OK;
   * otherwise returns an error with a message in err, and stop is not called. */
  quanqu_status (*init)(const quanqu_host* host, void** instance, char* err, size_t err_cap);

  /* Starts the plugin: register routes, read state. An error marks the plugin failed; the host
   * then drops its routes and calls stop. */
  quanqu_status (*start)(void* instance, char* err, size_t err_cap);

  /* Stops the plugin and frees `instance`. Called exactly once after a successful init (also
   * after a failed start), when no route handler is running and none will be called again. */
  void (*stop)(void* instance);
} quanqu_plugin_descriptor;

/* The signature of the entry symbol. It must only return the descriptor: no other work, no
 * allocation, no call into the host (the host calls it before checking the ABI version). */
typedef const quanqu_plugin_descriptor* (*quanqu_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* QUANQU_SDK_ABI_H */
