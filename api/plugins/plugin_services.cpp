// The core-service operations plugins call through the host, parsed and answered like the HTTP API's own routes.
#include "plugins/plugin_services.h"

#include "common/random.h"
#include "http/problem.h"
#include "routes/cart_input.h"
#include "routes/codec.h"
#include "routes/json_body.h"

#include <chrono>
#include <functional>
#include <map>

namespace quanqu::api {
namespace {

using nlohmann::json;
using Args = const json&;
using Operation = std::function<Result<json>(Services&, const std::string& plugin, Args)>;

// The most products one catalog.products call with "ids" reads.
constexpr std::size_t kMaxBatchProducts = 100;

// Field errors from reading the arguments, as one 400 like the API's.
Status checked(const std::vector<FieldError>& errors) {
  if (errors.empty()) return ok_status();
  return Error::invalid("validation_failed", "the arguments have invalid fields", errors);
}

Result<channels::Channel> channel_arg(Services& s, JsonFields& f, std::vector<FieldError>& errors) {
  auto id = f.string("channel_id", true);
  QQ_TRY(checked(errors));
  if (!looks_like_id(*id, "chan")) return Error::not_found("channel.not_found", "no channel '" + *id + "'");
  return s.channels.get_cached(ChannelId(*id));
}

Result<CartId> cart_arg(JsonFields& f, std::vector<FieldError>& errors) {
  auto id = f.string("cart_id", true);
  QQ_TRY(checked(errors));
  if (!looks_like_id(*id, "cart")) return Error::not_found("cart.not_found", "no cart '" + *id + "'");
  return CartId(*id);
}

// {"id": "order_..."}: a missing id is a 400, one that cannot be an order a 404.
Result<OrderId> order_arg(JsonFields& f, std::vector<FieldError>& errors) {
  auto id = f.string("id", true);
  QQ_TRY(checked(errors));
  if (!looks_like_id(*id, "order")) return Error::not_found("order.not_found", "no order '" + *id + "'");
  return OrderId(*id);
}

std::string required_string(JsonFields& f, const char* field, std::vector<FieldError>&) {
  auto v = f.string(field, true);
  return v.value_or("");
}

// A source set by a plugin names that plugin: `plugin` is filled in when left out, and another
// plugin's name is a field error (a plugin cannot take credit for another's sale).
void claim_source(Source& source, const std::string& plugin, JsonFields& f) {
  if (!source.plugin)
    source.plugin = plugin;
  else if (*source.plugin != plugin)
    f.fail("source/plugin", "must be this plugin's own name ('" + plugin + "') or left out");
}

// A source naming another plugin is that plugin's: this one may neither replace nor clear it.
Status may_change_source(Services& s, const channels::Channel& c, const CartId& id, const std::string& plugin) {
  QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.get(c, id));
  if (cart.source && cart.source->plugin && *cart.source->plugin != plugin)
    return Error::conflict("cart.source_owned", "the cart's source names the plugin '" + *cart.source->plugin +
                                                    "'; only that plugin may change it");
  return ok_status();
}

catalog::StoreView view_of(const channels::Channel& c) {
  return {c.id, c.currency, c.location_ids};
}

const std::map<std::string, Operation>& operations() {
  static const std::map<std::string, Operation> ops{
      // ---- Catalog ----
      {"catalog.product",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"id", "channel_id"});
         std::string id = required_string(f, "id", errors);
         QQ_TRY(checked(errors));
         if (a.contains("channel_id")) {
           QQ_ASSIGN_OR_RETURN(channels::Channel c, channel_arg(s, f, errors));
           QQ_ASSIGN_OR_RETURN(catalog::Product p, s.catalog.get_store_product(view_of(c), id));
           return product_store_json(p, c.currency);
         }
         QQ_ASSIGN_OR_RETURN(catalog::Product p, s.catalog.get_product(id));
         return product_admin_json(p);
       }},
      {"catalog.products",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         if (a.contains("ids")) {
           // A batch by id or handle, in the order asked: one host call instead of one per product.
           f.only({"ids", "channel_id"});
           auto ids = f.strings("ids", kMaxBatchProducts, true);
           if (ids && ids->empty()) f.fail("ids", "must name at least one product");
           std::optional<channels::Channel> channel;
           if (a.contains("channel_id")) {
             QQ_ASSIGN_OR_RETURN(channels::Channel c, channel_arg(s, f, errors));
             channel = std::move(c);
           }
           QQ_TRY(checked(errors));
           json items = json::array();
           json missing = json::array();
           for (const auto& id : *ids) {
             auto p = channel ? s.catalog.get_store_product(view_of(*channel), id) : s.catalog.get_product(id);
             if (!p && p.error().kind == ErrorKind::not_found) {
               missing.push_back(id);
               continue;
             }
             if (!p) return p.error();
             items.push_back(channel ? product_store_json(*p, channel->currency) : product_admin_json(*p));
           }
           return json{{"items", std::move(items)}, {"missing", std::move(missing)}};
         }
         f.only({"channel_id", "limit", "cursor", "q", "category", "ids"});
         catalog::ProductQuery q;
         q.limit = static_cast<int>(f.integer("limit").value_or(20));
         q.cursor = f.string("cursor").value_or("");
         q.q = f.string("q").value_or("");
         q.category = f.string("category").value_or("");
         if (q.limit < 1 || q.limit > 100) f.fail("limit", "must be between 1 and 100");
         QQ_ASSIGN_OR_RETURN(channels::Channel c, channel_arg(s, f, errors));
         QQ_ASSIGN_OR_RETURN(auto page, s.catalog.list_store_products(view_of(c), q));
         json items = json::array();
         for (const auto& p : page.items) items.push_back(product_store_json(p, c.currency));
         return page_json(std::move(items), page.next_cursor);
       }},
      {"inventory.availability",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"sku", "variant_id", "channel_id"});
         inventory::LevelQuery q;
         if (auto sku = f.string("sku")) q.sku = *sku;
         if (auto v = f.string("variant_id")) q.variant_id = VariantId(*v);
         if (q.sku.has_value() == q.variant_id.has_value()) f.fail("sku", "give exactly one of sku and variant_id");
         QQ_TRY(checked(errors));
         std::optional<channels::Channel> channel;
         if (a.contains("channel_id")) {
           QQ_ASSIGN_OR_RETURN(channels::Channel c, channel_arg(s, f, errors));
           channel = std::move(c);
         }
         q.limit = 1000;
         QQ_ASSIGN_OR_RETURN(inventory::LevelPage page, s.inventory.list_levels(q));
         json levels = json::array();
         std::int64_t available = 0;
         for (const auto& l : page.items) {
           bool counted = !channel || std::find(channel->location_ids.begin(), channel->location_ids.end(),
                                                l.location_id) != channel->location_ids.end();
           if (!counted) continue;
           levels.push_back(level_json(l));
           available += std::max<std::int64_t>(0, l.available());
         }
         return json{{"sku", q.sku ? json(*q.sku) : json(nullptr)},
                     {"variant_id", q.variant_id ? json(q.variant_id->value) : json(nullptr)},
                     {"available", available},
                     {"levels", levels}};
       }},
      // ---- Channels ----
      {"channels.get",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"id"});
         std::string id = required_string(f, "id", errors);
         QQ_TRY(checked(errors));
         QQ_ASSIGN_OR_RETURN(channels::Channel c, s.channels.get(id));
         return channel_json(c);
       }},
      // ---- Customers ----
      {"customers.get",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"id", "email"});
         auto id = f.string("id");
         auto email = f.string("email");
         if (id.has_value() == email.has_value() && errors.empty()) f.fail("id", "give exactly one of id and email");
         QQ_TRY(checked(errors));
         QQ_ASSIGN_OR_RETURN(customers::Customer c,
                             id ? s.customers.get(CustomerId(*id)) : s.customers.find_by_email(*email));
         return customer_json(c);
       }},
      {"customers.upsert",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"email", "name", "phone"});
         customers::CustomerDetails d{required_string(f, "email", errors), f.string("name"), f.string("phone")};
         QQ_TRY(checked(errors));
         QQ_ASSIGN_OR_RETURN(customers::Customer c, s.customers.upsert(d));
         return customer_json(c);
       }},
      {"customers.create_session",
       [](Services& s, const std::string& plugin, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"customer_id", "ttl_seconds"});
         std::string id = required_string(f, "customer_id", errors);
         std::int64_t ttl = f.integer("ttl_seconds").value_or(7 * 24 * 3600);
         if (ttl < 60 || ttl > customers::CustomerService::kMaxSessionMs / 1000)
           f.fail("ttl_seconds", "must be between 60 and " + std::to_string(customers::CustomerService::kMaxSessionMs / 1000));
         QQ_TRY(checked(errors));
         QQ_ASSIGN_OR_RETURN(customers::CustomerSession session,
                             s.customers.create_session(CustomerId(id), ttl * 1000, "plugin:" + plugin));
         return json{
             {"token", session.token}, {"customer_id", session.customer_id.value}, {"expires_at", session.expires_at}};
       }},
      {"customers.link_identity",
       [](Services& s, const std::string& plugin, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"customer_id", "type", "value"});
         std::string id = required_string(f, "customer_id", errors);
         std::string type = required_string(f, "type", errors);
         std::string value = required_string(f, "value", errors);
         QQ_TRY(checked(errors));
         if (!looks_like_id(id, "cus")) return Error::not_found("customer.not_found", "no such customer");
         QQ_ASSIGN_OR_RETURN(customers::Identity linked,
                             s.customers.link_identity(CustomerId(id), type, value, "plugin:" + plugin));
         return identity_json(linked);
       }},
      {"customers.find_by_identity",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"type", "value"});
         std::string type = required_string(f, "type", errors);
         std::string value = required_string(f, "value", errors);
         QQ_TRY(checked(errors));
         QQ_ASSIGN_OR_RETURN(customers::Customer c, s.customers.find_by_identity(type, value));
         return customer_json(c);
       }},
      // ---- Carts ----
      {"carts.create",
       [](Services& s, const std::string& plugin, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"channel_id", "email", "shipping_address", "items", "metadata", "source"});
         cart::CartPatch details = read_cart_details(f);
         // A plugin's cart comes from that plugin: source.plugin is its name, given or not.
         if (!details.source || !*details.source) details.source = std::optional<Source>(Source{});
         claim_source(**details.source, plugin, f);
         std::vector<cart::AddItem> items;
         if (const json* list = f.array("items", pricing::kMaxLines))
           for (std::size_t i = 0; i < list->size(); ++i) {
             if (!(*list)[i].is_object()) {
               f.fail("items/" + std::to_string(i), "must be an object");
               continue;
             }
             if (auto item = read_add_item(JsonFields((*list)[i], f.path("items/" + std::to_string(i)), errors)))
               items.push_back(*item);
           }
         QQ_ASSIGN_OR_RETURN(channels::Channel c, channel_arg(s, f, errors));
         QQ_TRY(checked(errors));
         QQ_TRY(cart::CartService::validate(details));
         QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.create(c, details, items));
         return cart_json(cart);
       }},
      {"carts.get",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"channel_id", "cart_id"});
         QQ_ASSIGN_OR_RETURN(CartId id, cart_arg(f, errors));
         QQ_ASSIGN_OR_RETURN(channels::Channel c, channel_arg(s, f, errors));
         QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.get(c, id));
         return cart_json(cart);
       }},
      {"carts.add_item",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         json item_args = a;
         if (item_args.is_object()) {
           item_args.erase("channel_id");
           item_args.erase("cart_id");
         }
         JsonFields f(a, "", errors);
         auto item = read_add_item(JsonFields(item_args, "", errors));
         QQ_ASSIGN_OR_RETURN(CartId id, cart_arg(f, errors));
         QQ_ASSIGN_OR_RETURN(channels::Channel c, channel_arg(s, f, errors));
         QQ_TRY(checked(errors));
         QQ_TRY(cart::CartService::validate(*item));
         QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.add_item(c, id, *item));
         return cart_json(cart);
       }},
      {"carts.update",
       [](Services& s, const std::string& plugin, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"channel_id", "cart_id", "email", "shipping_address", "metadata", "source"});
         cart::CartPatch patch = read_cart_details(f);
         if (patch.source && *patch.source) claim_source(**patch.source, plugin, f);
         QQ_ASSIGN_OR_RETURN(CartId id, cart_arg(f, errors));
         QQ_ASSIGN_OR_RETURN(channels::Channel c, channel_arg(s, f, errors));
         QQ_TRY(checked(errors));
         QQ_TRY(cart::CartService::validate(patch));
         if (patch.source) QQ_TRY(may_change_source(s, c, id, plugin));
         QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.update(c, id, patch));
         return cart_json(cart);
       }},
      {"carts.set_quantity",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"channel_id", "cart_id", "item_id", "quantity"});
         std::string item = required_string(f, "item_id", errors);
         std::int64_t quantity = f.integer("quantity", true).value_or(0);
         QQ_ASSIGN_OR_RETURN(CartId id, cart_arg(f, errors));
         QQ_ASSIGN_OR_RETURN(channels::Channel c, channel_arg(s, f, errors));
         QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.set_quantity(c, id, CartItemId(item), quantity));
         return cart_json(cart);
       }},
      {"carts.remove_item",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"channel_id", "cart_id", "item_id"});
         std::string item = required_string(f, "item_id", errors);
         QQ_ASSIGN_OR_RETURN(CartId id, cart_arg(f, errors));
         QQ_ASSIGN_OR_RETURN(channels::Channel c, channel_arg(s, f, errors));
         QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.remove_item(c, id, CartItemId(item)));
         return cart_json(cart);
       }},
      // ---- Orders ----
      {"orders.create_from_cart",
       [](Services& s, const std::string& plugin, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"channel_id", "cart_id", "idempotency_key"});
         std::string key = required_string(f, "idempotency_key", errors);
         QQ_ASSIGN_OR_RETURN(CartId id, cart_arg(f, errors));
         QQ_ASSIGN_OR_RETURN(channels::Channel c, channel_arg(s, f, errors));
         // Keys of a plugin never collide with a storefront's: the plugin's name prefixes them.
         checkout::CheckoutRequest request{id, "plugin:" + plugin + ":" + key, sha256_hex(id.value),
                                           orders::Actor::plugin(plugin)};
         QQ_ASSIGN_OR_RETURN(checkout::CheckoutResult result, s.checkout.checkout(c, request));
         return json{{"order", order_json(result.order, true)},
                     {"access_token", result.access_token},
                     {"pickup_code", result.pickup_code.empty() ? json(nullptr) : json(result.pickup_code)},
                     {"replayed", result.replayed}};
       }},
      {"orders.get",
       [](Services& s, const std::string&, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"id"});
         QQ_ASSIGN_OR_RETURN(OrderId id, order_arg(f, errors));
         QQ_ASSIGN_OR_RETURN(orders::Order o, s.orders.get(id));
         return order_json(o, true);
       }},
      // {"id", "metadata"}: merged into the order's metadata as PATCH /v1/admin/orders/{id} does.
      {"orders.update",
       [](Services& s, const std::string& plugin, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"id", "metadata"});
         const json* metadata = f.object("metadata", true);
         QQ_ASSIGN_OR_RETURN(OrderId id, order_arg(f, errors));
         QQ_TRY(checked(errors));
         QQ_ASSIGN_OR_RETURN(orders::Order o, s.orders.update_metadata(id, *metadata, orders::Actor::plugin(plugin)));
         return order_json(o, true);
       }},
      {"orders.mark_paid",
       [](Services& s, const std::string& plugin, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"id"});
         QQ_ASSIGN_OR_RETURN(OrderId id, order_arg(f, errors));
         QQ_ASSIGN_OR_RETURN(orders::Order o, s.payments.capture(id, orders::Actor::plugin(plugin)));
         return order_json(o, true);
       }},
      {"orders.set_fulfilment",
       [](Services& s, const std::string& plugin, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"id", "status"});
         std::string status = required_string(f, "status", errors);
         QQ_ASSIGN_OR_RETURN(OrderId id, order_arg(f, errors));
         QQ_ASSIGN_OR_RETURN(orders::Order o, s.orders.set_fulfilment(id, status, orders::Actor::plugin(plugin)));
         return order_json(o, true);
       }},
      // A lifecycle move by the plugin: {"id", "move": "ship" | "deliver" | "complete" | ...}; a
      // pickup needs the shopper's "code", checked (and counted when wrong) as at the desk.
      {"orders.move",
       [](Services& s, const std::string& plugin, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"id", "move", "code"});
         std::string name = required_string(f, "move", errors);
         std::string code = f.string("code", false, 20).value_or("");
         QQ_ASSIGN_OR_RETURN(OrderId id, order_arg(f, errors));
         std::optional<orders::lifecycle::Move> move;
         for (auto m : {orders::lifecycle::Move::ship, orders::lifecycle::Move::deliver,
                        orders::lifecycle::Move::ready_for_pickup, orders::lifecycle::Move::pickup,
                        orders::lifecycle::Move::complete})
           if (orders::lifecycle::name(m) == name) move = m;
         if (!move) errors.push_back({"move", "must be ship, deliver, ready_for_pickup, pickup or complete"});
         QQ_TRY(checked(errors));
         if (*move != orders::lifecycle::Move::pickup && !code.empty())
           errors.push_back({"code", "is only for the pickup move"});
         QQ_TRY(checked(errors));
         orders::Actor actor = orders::Actor::plugin(plugin);
         QQ_ASSIGN_OR_RETURN(orders::Order o, *move == orders::lifecycle::Move::pickup
                                                  ? s.orders.pick_up(id, code, actor)
                                                  : s.orders.move(id, *move, actor));
         return order_json(o, true);
       }},
      {"orders.cancel",
       [](Services& s, const std::string& plugin, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"id", "reason"});
         std::string reason = f.string("reason").value_or("");
         QQ_ASSIGN_OR_RETURN(OrderId id, order_arg(f, errors));
         QQ_ASSIGN_OR_RETURN(orders::Order o, s.orders.cancel(id, reason, orders::Actor::plugin(plugin)));
         if (auto released = s.payments.release_for_cancelled(o); !released && s.log)
           s.log->log(http::LogLevel::warn, "payment not released after cancel",
                      {{"order_id", o.id.value}, {"code", released.error().code}});
         return order_json(o, true);
       }},
      // ---- Payments ----
      {"payments.captured",
       [](Services& s, const std::string& plugin, Args a) -> Result<json> {
         std::vector<FieldError> errors;
         JsonFields f(a, "", errors);
         f.only({"provider", "reference", "event_id"});
         std::string reference = required_string(f, "reference", errors);
         auto provider = f.string("provider");
         std::optional<std::string> event_id = f.string("event_id");
         QQ_TRY(checked(errors));
         // A plugin reports captures for its own payment providers only.
         std::vector<std::string> own;
         for (const auto& p : s.plugins.providers())
           if (p.kind == "payment" && p.plugin == plugin) own.push_back(p.name);
         if (!provider && own.size() == 1) provider = own.front();
         if (!provider || std::find(own.begin(), own.end(), *provider) == own.end())
           return Error::invalid("validation_failed", "the arguments have invalid fields",
                                 {{"provider", "must name one of this plugin's payment providers"}});
         json details{{"source", "provider"}};
         if (event_id) details["event_id"] = *event_id;
         QQ_ASSIGN_OR_RETURN(payments::PaymentService::Captured done,
                             s.payments.record_capture(*provider, reference, details));
         return json{{"session", done.session.to_json()},
                     {"order", done.order ? order_json(*done.order, true) : json(nullptr)}};
       }},
  };
  return ops;
}

}  // namespace

const std::vector<std::string>& plugin_operations() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, op] : operations()) out.push_back(name);
    return out;
  }();
  return names;
}

plugins::HostServices plugin_host_services(Services& services, const http::HttpClient& client) {
  plugins::HostServices h;
  h.call = [&services](const std::string& plugin, const std::string& operation, const json& args) -> Result<json> {
    auto it = operations().find(operation);
    if (it == operations().end())
      return Error::not_found("plugin.unknown_operation",
                              "no core operation '" + operation + "' (docs/sdk.md lists them)");
    try {
      return it->second(services, plugin, args);
    } catch (const std::exception& e) {  // a JSON type surprise in an argument: the plugin's input
      return Error::invalid("validation_failed", std::string("the arguments are malformed: ") + e.what());
    }
  };
  h.problem = [](const Error& e) { return json::parse(http::problem(e).body); };
  h.channel_configs = [&services](const std::string& channel_id) -> Result<json> {
    if (!looks_like_id(channel_id, "chan")) return Error::not_found("channel.not_found", "no such channel");
    QQ_ASSIGN_OR_RETURN(channels::Channel c, services.channels.get_cached(ChannelId(channel_id)));
    return c.configs;
  };
  h.fetch = [&services, &client](const plugins::FetchRequest& in) -> Result<plugins::FetchReply> {
    http::OutgoingRequest out;
    out.method = in.method;
    out.url = in.url;
    out.headers = in.headers;
    out.body = in.body;
    out.timeout_ms = in.timeout_ms;
    auto started = std::chrono::steady_clock::now();
    auto reply = client.send(out);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    if (services.log) {
      // The URL's path and query may hold secrets: only the scheme and authority are logged.
      std::string origin =
          in.url.substr(0, in.url.find('/', in.url.find("//") == std::string::npos ? 0 : in.url.find("//") + 2));
      services.log->log(reply ? http::LogLevel::info : http::LogLevel::warn, "plugin outgoing request",
                        {{"plugin", in.plugin},
                         {"method", in.method},
                         {"origin", origin},
                         {"status", reply ? json(reply->status) : json(nullptr)},
                         {"error", reply ? json(nullptr) : json(reply.error().code)},
                         {"ms", ms}});
    }
    if (!reply) return reply.error();
    return plugins::FetchReply{reply->status, std::move(reply->headers), std::move(reply->body)};
  };
  h.started = [&services](const std::string& plugin) {
    auto list = services.channels.list();
    if (!list) return;
    for (const auto& c : *list)
      if (c.plugin && *c.plugin == plugin) configure_channel(services, c);
  };
  return h;
}

void configure_channel(Services& services, const channels::Channel& channel) {
  if (!channel.plugin) return;
  for (const auto& p : services.plugins.providers()) {
    if (p.kind != "channel_adapter" || p.plugin != *channel.plugin) continue;
    json input{
        {"channel",
         {{"id", channel.id.value}, {"code", channel.code}, {"type", channel.type}, {"currency", channel.currency}}}};
    auto done = services.plugins.invoke("channel_adapter", p.name, "configure", std::move(input), channel.configs);
    if (!done && services.log)
      services.log->log(http::LogLevel::warn, "channel adapter refused its config",
                        {{"plugin", p.plugin}, {"channel", channel.code}, {"code", done.error().code}});
  }
}

}  // namespace quanqu::api
