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
 * Threads: every call into a plugin runs on the host's plugin call pool, with a deadline (see
 * docs/sdk.md, "Deadlines"); a call past it is abandoned, not interrupted: the caller gets an
 * error and the call keeps its thread until it returns, its result discarded. Route handlers and
 * providers may be called concurrently from several threads; event handlers one at a time.
 * Every host function is thread-safe. init, start and stop are called once each per loaded
 * instance, one after the other (not necessarily from the same thread).
 *
 * Reload: when the merchant reloads a plugin, the host loads the new library beside the old one,
 * calls its init and start, and sends new calls to it; calls already running finish on the old
 * instance, whose stop is called once the last of them has returned. The two instances share
 * the plugin's key-value store, so state kept there survives a reload.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QUANQU_SDK_ABI_MAJOR 1
#define QUANQU_SDK_ABI_MINOR 1

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
  quanqu_str customer_id; /* the signed-in customer (X-Customer-Token header); empty when none */
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

/* A domain event, as the host delivers it to a subscriber. Owned by the host and valid only during
 * the handler call. `data` is a JSON object whose fields each event type documents (docs/sdk.md,
 * "Events"). Grows at the end. */
typedef struct quanqu_event {
  size_t size;            /* sizeof(quanqu_event) as the host knows it */
  quanqu_str id;          /* unique, "evt_..." */
  quanqu_str type;        /* "order.placed", "inventory.changed", "<plugin>.<something>", ... */
  int64_t occurred_at_ms; /* when the change committed, ms since the Unix epoch */
  quanqu_str data;        /* JSON object */
} quanqu_event;

/* An event handler. Events are delivered after the change has committed, one at a time, in the
 * order they were published (not on a request thread): a slow handler delays every plugin's
 * events up to its deadline, so hand long work off to a thread of your own.
 * A handler returns QUANQU_OK, or an error with a message in err: the host logs it and counts it
 * against the plugin (the event is not redelivered). Must not throw. */
typedef quanqu_status (*quanqu_event_fn)(void* user, const quanqu_event* event, char* err, size_t err_cap);

/* A provider a plugin registers: a payment provider, a fulfilment provider, a channel adapter or a
 * size advisor. The host calls `invoke` with an operation name and a JSON object, and the
 * provider answers a JSON object through `sink`. The operations of each kind and their JSON are
 * listed in docs/sdk.md ("Providers"); new operations may be added in a minor version, so a
 * provider answers QUANQU_ERR_NOT_FOUND for an operation it does not know.
 *
 * A business refusal (a card declined, an address out of delivery range) is not an error: the
 * provider answers QUANQU_OK with {"refusal": {"code": "<plugin>.<reason>", "message": "..."}},
 * which the shopper gets as a 422 with that code. An error status (or a throw, caught by the C++
 * layer) means the provider is broken: the shopper gets a 502 "plugin_error", and it is counted.
 *
 * The struct is copied by register_provider; `name` and `kind` are copied too. `invoke` and
 * `user` are owned by the plugin and must stay valid until stop returns. May be called
 * concurrently from several threads. Grows at the end. */
typedef quanqu_status (*quanqu_provider_fn)(void* user, quanqu_str operation, quanqu_str input_json,
                                            quanqu_string_sink sink, void* sink_user, char* err, size_t err_cap);
typedef struct quanqu_provider {
  size_t size;     /* sizeof(quanqu_provider) as the plugin was compiled */
  quanqu_str kind; /* "payment", "fulfilment", "channel_adapter" or "size_advisor" */
  quanqu_str name; /* [a-z0-9-], 1..63; unique per kind across plugins, e.g. "manual-payment" */
  quanqu_provider_fn invoke;
  void* user;
} quanqu_provider;

/* An outgoing HTTP request a plugin asks the host to make (quanqu_host.http_fetch). Borrowed for
 * the call. Grows at the end. */
typedef struct quanqu_http_request {
  size_t size;                /* sizeof(quanqu_http_request) as the plugin was compiled */
  quanqu_str method;          /* "GET", "POST", ... */
  quanqu_str url;             /* absolute http:// or https:// URL */
  const quanqu_pair* headers; /* extra request headers */
  size_t header_count;
  quanqu_str body;
  int32_t timeout_ms; /* the whole exchange; 0 means the default (10 s); at most 60 s */
} quanqu_http_request;

/* Receives the reply of http_fetch: status, headers (names lower case) and body, owned by the
 * host and valid only during the call. Called once when a reply was received (any status). */
typedef void (*quanqu_http_reply_fn)(void* user, int32_t status, const quanqu_pair* headers, size_t header_count,
                                     quanqu_str body);

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
   * plugins. Keys are 1..256 bytes, values at most 65536 bytes, both valid UTF-8 without NUL
   * bytes (QUANQU_ERR_INVALID otherwise; encode binary data, e.g. as hex or base64).
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

  /* Calls a core service the way the HTTP API does: the same validation, the same transactions,
   * the same events. `operation` names it and `args` is a JSON object; the operations, their
   * arguments and results are listed in docs/sdk.md ("Core services"), e.g. "catalog.product",
   * "inventory.availability", "channels.get", "carts.create", "carts.add_item",
   * "orders.create_from_cart", "orders.mark_paid", "orders.set_fulfilment", "customers.get".
   * On QUANQU_OK `sink` receives the result as a JSON object. On failure `sink` receives the
   * problem as JSON, {"status": 422, "code": "...", "detail": "...", "errors": [...]}, `err`
   * receives "<code>: <detail>", and the status says what kind of failure it is
   * (QUANQU_ERR_INVALID for a 4xx, QUANQU_ERR_NOT_FOUND for a 404, QUANQU_ERR_UNAVAILABLE for a
   * transient 5xx). Usable from start on. */
  quanqu_status (*call)(void* ctx, quanqu_str operation, quanqu_str args, quanqu_string_sink sink, void* sink_user,
                        char* err, size_t err_cap);

  /* Subscribes to domain events, only during start (QUANQU_ERR_STATE afterwards). `event_type` is
   * an exact type ("order.placed"), a prefix ending in ".*" ("order.*"), or "*" for all. `fn`
   * and `user` are owned by the plugin and must stay valid until stop returns. */
  quanqu_status (*subscribe)(void* ctx, quanqu_str event_type, quanqu_event_fn fn, void* user, char* err,
                             size_t err_cap);

  /* Publishes an event of the plugin's own. The type must start with "<plugin name>." (core types
   * are published only by the core); `data` is a JSON object of at most 65536 bytes. */
  quanqu_status (*publish)(void* ctx, quanqu_str event_type, quanqu_str data, char* err, size_t err_cap);

  /* Registers a provider, only during start. The manifest must list its kind under "provides"
   * ("payment_provider", "fulfilment_provider", "channel_adapter", "size_advisor"). A name
   * already registered for that kind by another plugin is QUANQU_ERR_INVALID. */
  quanqu_status (*register_provider)(void* ctx, const quanqu_provider* provider, char* err, size_t err_cap);

  /* The plugin's config for one channel, as the merchant set it and the manifest's
   * config_schema validated it (defaults filled in): the channel's "config" when its "plugin" is
   * this plugin, or its "provider_config" entry for this plugin when the channel uses one of the
   * plugin's providers. `sink` receives the JSON. A channel without a config for this plugin,
   * or an unknown channel, is QUANQU_ERR_NOT_FOUND (to know whether a channel is run by the
   * plugin, read its "plugin" through call("channels.get")). Providers also receive the config
   * in each call's input, under "config". */
  quanqu_status (*channel_config)(void* ctx, quanqu_str channel_id, quanqu_string_sink sink, void* sink_user,
                                  char* err, size_t err_cap);

  /* Makes an HTTP request to an external service (a payment gateway, a marketplace) and blocks
   * until the reply or the timeout. QUANQU_OK means a reply arrived, whatever its status, and
   * `reply` was called; QUANQU_ERR_UNAVAILABLE means none did (refused, timed out, TLS failure),
   * with the reason in err; QUANQU_ERR_INVALID means the request itself is malformed (a URL
   * that is not http(s), an unknown method, a header with control characters or one the host
   * sets: Host, Content-Length, Transfer-Encoding, Connection). Replies above 8 MiB are cut off
   * as unavailable. The host logs and times every call (never its path or query). */
  quanqu_status (*http_fetch)(void* ctx, const quanqu_http_request* request, quanqu_http_reply_fn reply, void* user,
                              char* err, size_t err_cap);

  /* HMAC-SHA256 of `message` under `key`, written to out (32 bytes): signing and verifying
   * webhooks without a crypto library in the plugin. */
  void (*hmac_sha256)(void* ctx, quanqu_str key, quanqu_str message, uint8_t out[32]);

  /* ---- ABI 1.1 ---- */
  /* Key-value operations beyond get/put/delete. Keys and values follow the rules of kv_get and
   * kv_put above. A key may carry an expiry: `ttl_ms` is a duration in milliseconds from the
   * host's clock (now_ms), 0 meaning "never expires", at most QUANQU_KV_MAX_TTL_MS; a negative or
   * larger value is QUANQU_ERR_INVALID. An expired key is absent for every read and every
   * operation below (kv_get answers QUANQU_ERR_NOT_FOUND, kv_list skips it, kv_incr counts from
   * 0, kv_cas sees it absent); the host deletes expired rows in the background. kv_put (1.0)
   * clears a key's expiry. Each call is atomic, also against other threads and other server
   * nodes sharing the database. A plugin built for 1.1 checks QUANQU_HOST_HAS(host, kv_incr)
   * (and so on) before calling: a 1.0 host has none of them. */

  /* Inserts or replaces `key` with `value`, expiring `ttl_ms` from now (0: never, like kv_put). */
  quanqu_status (*kv_put_ttl)(void* ctx, quanqu_str key, quanqu_str value, int64_t ttl_ms, char* err, size_t err_cap);

  /* Adds `delta` (may be negative) to the integer stored at `key` and writes the new value to
   * *value_out. The value is kept as decimal text ("-12"), so kv_get reads it. An absent (or
   * expired) key counts from 0 and is created expiring `ttl_ms` from now (0: never); an existing
   * key keeps its expiry, so a counter with a TTL counts within a fixed window. A value that is not
   * a decimal int64 (optional '-', digits only), or a result that overflows int64, is
   * QUANQU_ERR_INVALID and changes nothing. */
  quanqu_status (*kv_incr)(void* ctx, quanqu_str key, int64_t delta, int64_t ttl_ms, int64_t* value_out, char* err,
                           size_t err_cap);

  /* Compare-and-set. When `expected` is NULL the key must be absent (or expired); otherwise its
   * current value must equal *expected, byte for byte. If so the key is set to `value`, expiring
   * `ttl_ms` from now (0: never), and the call returns QUANQU_OK; if not nothing changes and it
   * returns QUANQU_ERR_STATE (a normal outcome, not a failure: err says "no swap"). `expected` is
   * borrowed for the call. */
  quanqu_status (*kv_cas)(void* ctx, quanqu_str key, const quanqu_str* expected, quanqu_str value, int64_t ttl_ms,
                          char* err, size_t err_cap);

  /* Lists the plugin's keys that start with `prefix` (0..256 bytes; empty lists every key), in
   * ascending byte order, after `cursor` (exclusive; empty starts at the beginning), at most
   * `limit` (1..1000) of them. `sink` is called once with a JSON object:
   *   {"items": [{"key": "...", "value": "...", "expires_at_ms": 1767225600000 or null}, ...],
   *    "next_cursor": "<the last key of this page>" or null}
   * next_cursor is null only when no further key matches; pass it back as `cursor` for the next
   * page. A page also ends early once its values pass 1 MiB (always at least one item), so a
   * page may hold fewer than `limit` items while next_cursor is not null. Each page is its own
   * read: keys written between pages are listed if they sort after the cursor. */
  quanqu_status (*kv_list)(void* ctx, quanqu_str prefix, quanqu_str cursor, int32_t limit, quanqu_string_sink sink,
                           void* sink_user, char* err, size_t err_cap);

  /* Protects a route registered with register_route (the same method and pattern), only during
   * start (QUANQU_ERR_STATE afterwards): `access` is one of QUANQU_ROUTE_OPEN (the default),
   * QUANQU_ROUTE_MERCHANT or QUANQU_ROUTE_ADMIN. The server then checks the caller's
   * `Authorization: Bearer` key before the handler runs, answers 401 itself without calling the
   * plugin, and never passes the key on. An unregistered route is QUANQU_ERR_NOT_FOUND, another
   * value of `access` QUANQU_ERR_INVALID. */
  quanqu_status (*set_route_access)(void* ctx, quanqu_str method, quanqu_str pattern, int32_t access, char* err,
                                    size_t err_cap);
} quanqu_host;

/* Who may call a route (set_route_access, ABI 1.1). */
#define QUANQU_ROUTE_OPEN 0     /* anyone: the plugin checks what it needs */
#define QUANQU_ROUTE_MERCHANT 1 /* the admin key, or a key the merchant issued for this plugin */
#define QUANQU_ROUTE_ADMIN 2    /* the admin key only */

/* The longest expiry a key may be given (ABI 1.1): 366 days, in milliseconds. */
#define QUANQU_KV_MAX_TTL_MS ((int64_t)366 * 24 * 60 * 60 * 1000)
/* The most items one kv_list page holds (ABI 1.1). */
#define QUANQU_KV_LIST_MAX_LIMIT 1000

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
