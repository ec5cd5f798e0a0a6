// Store handlers: each parses its request, calls one core service and maps the result.
#include "store/store_routes.h"
#include "common/random.h"
#include "orders/pickup_code.h"
#include "routes/cart_input.h"
#include "routes/codec.h"
#include "routes/handler.h"
#include "routes/idempotency.h"
#include "routes/json_body.h"
#include "store/response_cache.h"

#include <charconv>
#include <cmath>
#include <memory>

namespace quanqu::api {
namespace {

using http::Request;
using http::Response;

Result<CartId> cart_id(const Request& r) {
  const auto& id = r.param("id");
  if (!looks_like_id(id, "cart")) return Error::not_found("cart.not_found", "no cart '" + id + "'");
  return CartId(id);
}

// The channel's cart named by the path, and its item when the path names one: a request for
// another channel's cart, or an item it does not hold, is a 404 before any body is read.
Result<cart::Cart> owned_cart(Services& s, const Request& r, const channels::Channel& c) {
  QQ_ASSIGN_OR_RETURN(CartId id, cart_id(r));
  return s.carts.get(c, id);
}

Status item_exists(const cart::Cart& cart, const std::string& item_id) {
  for (const auto& i : cart.items)
    if (i.id.value == item_id) return ok_status();
  return Error::not_found("cart_item.not_found", "no item '" + item_id + "' in this cart");
}

// Catalog replies may be stored by shared caches but must be revalidated (stock changes them at
// any moment; a 304 is cheap). They depend on the publishable key (the channel) and the coding.
constexpr std::string_view kCatalogCacheControl = "public, max-age=0, must-revalidate";
constexpr std::string_view kCatalogVary = "X-Publishable-Key, Accept-Encoding";

// A cached reply, or the computed one stored for the next caller; either way answered with its
// ETag (304 on a matching If-None-Match) and gzipped when the client accepts it. The ETag and
// gzip body are computed once, when the reply is stored. `compute` lists the variants whose stock
// the reply shows, so that only a stock change of one of them makes it stale.
using ComputeReply = std::function<Result<nlohmann::json>(std::vector<std::string>& shown_variants)>;

Result<Response> cached(ResponseCache& cache, const Request& r, const std::string& key, const ComputeReply& compute) {
  auto reply = cache.get(key);
  if (!reply) {
    auto seen = cache.seen();
    std::vector<std::string> shown_variants;
    QQ_ASSIGN_OR_RETURN(nlohmann::json json, compute(shown_variants));
    reply = http::make_representation(std::move(json_reply(200, json).body));
    cache.put(key, seen, shown_variants, reply);
  }
  return http::representation_response(r, std::move(reply), kCatalogCacheControl, kCatalogVary);
}

void add_variant_ids(const catalog::Product& p, std::vector<std::string>& out) {
  for (const auto& v : p.variants) out.push_back(v.id.value);
}

catalog::StoreView view_of(const channels::Channel& c) { return {c.id, c.currency, c.location_ids}; }

// ?variant_id=...&lat=..&lng=.. of the availability route: the variant, and where the shopper is.
struct AvailabilityQuery {
  VariantId variant_id;
  std::optional<std::pair<double, double>> from;
};

Result<AvailabilityQuery> availability_query(const Request& r) {
  std::vector<FieldError> errors;
  AvailabilityQuery q;
  auto variant = r.query_param("variant_id");
  if (!variant || variant->empty() || variant->size() > 200)
    errors.push_back({"variant_id", "is required: the variant to look for"});
  else
    q.variant_id = VariantId(std::string(*variant));
  // A coordinate is a finite decimal number within its range.
  auto coordinate = [&](const char* name, double limit) -> std::optional<double> {
    auto text = r.query_param(name);
    if (!text) return std::nullopt;
    double value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size() || !std::isfinite(value) || value < -limit ||
        value > limit) {
      errors.push_back({name, "must be a number from " + std::to_string(static_cast<int>(-limit)) + " to " +
                                  std::to_string(static_cast<int>(limit))});
      return std::nullopt;
    }
    return value;
  };
  auto lat = coordinate("lat", 90), lng = coordinate("lng", 180);
  if (r.query_param("lat").has_value() != r.query_param("lng").has_value())
    errors.push_back({r.query_param("lat") ? "lng" : "lat", "lat and lng go together"});
  if (!errors.empty()) return Error::invalid("invalid_query", "the query has invalid parameters", std::move(errors));
  if (lat && lng) q.from = std::make_pair(*lat, *lng);
  return q;
}

nlohmann::json availability_json(const inventory::PickupAvailability& a) {
  const auto& l = a.location;
  return {{"location_id", l.id.value},
          {"code", l.code},
          {"name", l.name},
          {"address", l.address.to_json()},
          {"available", a.available},
          {"distance_metres", a.distance_metres ? nlohmann::json(std::llround(*a.distance_metres)) : nlohmann::json(nullptr)},
          {"pickup_hold_hours", l.pickup_hold_hours}};
}

}  // namespace

void register_store_routes(http::Router& router, Services& s, const ApiOptions& options, http::Metrics& metrics) {
  auto cache = std::make_shared<ResponseCache>(s.changes, options.catalog_cache_ttl_ms);
  metrics.add_labeled("quanqu_catalog_cache_lookups_total",
                      "Store catalog reads answered from this node's reply cache (hit) or computed (miss)", "result",
                      [cache] {
                        return http::Metrics::LabeledSamples{{"hit", static_cast<double>(cache->hits())},
                                                             {"miss", static_cast<double>(cache->misses())}};
                      });

  router.add("GET", "/v1/store/products", store_route(s, [&s, cache](Request& r, const channels::Channel& c) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto q, page_query<catalog::ProductQuery>(r));
    q.q = query_text(r, "q");
    q.category = query_text(r, "category");
    // Length-prefixed parts, so no q or category text can make two queries share a key.
    std::string key = c.id.value + "|list|" + std::to_string(q.limit);
    for (const auto* part : {&q.cursor, &q.q, &q.category}) key += "|" + std::to_string(part->size()) + ":" + *part;
    return cached(*cache, r, key, [&](std::vector<std::string>& shown) -> Result<nlohmann::json> {
      QQ_ASSIGN_OR_RETURN(auto result, s.catalog.list_store_products(view_of(c), q));
      nlohmann::json items = nlohmann::json::array();
      for (const auto& p : result.items) {
        items.push_back(product_store_json(p, c.currency));
        add_variant_ids(p, shown);
      }
      return page_json(std::move(items), result.next_cursor);
    });
  }));

  router.add("GET", "/v1/store/products/{id}", store_route(s, [&s, cache](Request& r, const channels::Channel& c) -> Result<Response> {
    const std::string& id = r.param("id");
    return cached(*cache, r, c.id.value + "|product|" + id, [&](std::vector<std::string>& shown) -> Result<nlohmann::json> {
      QQ_ASSIGN_OR_RETURN(auto product, s.catalog.get_store_product(view_of(c), id));
      add_variant_ids(product, shown);
      return product_store_json(product, c.currency);
    });
  }));

  // Which of the channel's pickup stores have the variant now: read live, never cached, so that a
  // sale on any channel shows at once.
  router.add("GET", "/v1/store/products/{id}/availability", store_route(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(auto product, s.catalog.get_store_product(view_of(c), r.param("id")));
    QQ_ASSIGN_OR_RETURN(AvailabilityQuery q, availability_query(r));
    bool of_product = std::any_of(product.variants.begin(), product.variants.end(),
                                  [&](const auto& v) { return v.id == q.variant_id; });
    if (!of_product)
      return Error::not_found("variant.not_found", "no variant '" + q.variant_id.value + "' of this product");
    QQ_ASSIGN_OR_RETURN(auto stores, s.inventory.pickup_availability(q.variant_id, c.location_ids, q.from));
    nlohmann::json items = nlohmann::json::array();
    for (const auto& a : stores) items.push_back(availability_json(a));
    return json_reply(200, {{"product_id", product.id.value}, {"variant_id", q.variant_id.value}, {"items", items}});
  }));

  router.add("GET", "/v1/store/categories", store_route(s, [&s, cache](Request& r, const channels::Channel&) -> Result<Response> {
    return cached(*cache, r, "categories", [&](std::vector<std::string>&) -> Result<nlohmann::json> {
      QQ_ASSIGN_OR_RETURN(auto categories, s.catalog.list_categories());
      nlohmann::json items = nlohmann::json::array();
      for (const auto& cat : categories) items.push_back(category_json(cat));
      return page_json(std::move(items), "");
    });
  }));

  router.add("POST", "/v1/store/carts", store_route(s, idempotent_store(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"email", "shipping_address", "items", "metadata", "source"});
    cart::CartPatch details = read_cart_details(f);
    std::vector<cart::AddItem> items;
    if (const auto* list = f.array("items", pricing::kMaxLines))
      for (std::size_t i = 0; i < list->size(); ++i) {
        if (!(*list)[i].is_object()) {
          f.fail("items/" + std::to_string(i), "must be an object");
          continue;
        }
        if (auto item = read_add_item(JsonFields((*list)[i], "items/" + std::to_string(i), f.errors())))
          items.push_back(*item);
      }
    QQ_TRY(body.status_with(cart::CartService::validate(details)));
    // A signed-in customer's cart is theirs alone, and gets their e-mail unless another is given.
    QQ_ASSIGN_OR_RETURN(auto customer, signed_in_customer(s, r));
    std::optional<CustomerId> owner;
    if (customer) {
      owner = customer->id;
      if (!details.email) details.email = std::optional<std::string>(customer->email);
    }
    QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.create(c, details, items, owner));
    return created(cart_json(cart), "/v1/store/carts/" + cart.id.value);
  })));

  router.add("GET", "/v1/store/carts/{id}", store_route(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CartId id, cart_id(r));
    QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.get(c, id));
    return json_reply(200, cart_json(cart));
  }));

  router.add("PATCH", "/v1/store/carts/{id}", store_route(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CartId id, cart_id(r));
    QQ_TRY(s.carts.get(c, id));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"email", "shipping_address", "fulfilment", "metadata", "source"});
    cart::CartPatch patch = read_cart_details(f);
    patch.fulfilment = read_fulfilment(f);
    QQ_TRY(body.status_with(cart::CartService::validate(patch)));
    QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.update(c, id, patch));
    return json_reply(200, cart_json(cart));
  }));

  router.add("POST", "/v1/store/carts/{id}/items", store_route(s, idempotent_store(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CartId id, cart_id(r));
    QQ_TRY(s.carts.get(c, id));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto item = read_add_item(body.fields());
    QQ_TRY(body.status_with(cart::CartService::validate(*item)));
    QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.add_item(c, id, *item));
    return json_reply(200, cart_json(cart));
  })));

  router.add("PATCH", "/v1/store/carts/{id}/items/{item_id}",
             store_route(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CartId id, cart_id(r));
    QQ_ASSIGN_OR_RETURN(cart::Cart current, owned_cart(s, r, c));
    QQ_TRY(item_exists(current, r.param("item_id")));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    auto f = body.fields();
    f.only({"quantity"});
    auto quantity = f.integer("quantity", true);
    if (quantity && (*quantity < 1 || *quantity > pricing::kMaxQuantity))
      f.fail("quantity", "must be between 1 and " + std::to_string(pricing::kMaxQuantity) + "; DELETE the item to remove it");
    QQ_TRY(body.status());
    QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.set_quantity(c, id, CartItemId(r.param("item_id")), *quantity));
    return json_reply(200, cart_json(cart));
  }));

  router.add("DELETE", "/v1/store/carts/{id}/items/{item_id}",
             store_route(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CartId id, cart_id(r));
    QQ_ASSIGN_OR_RETURN(cart::Cart cart, s.carts.remove_item(c, id, CartItemId(r.param("item_id"))));
    return json_reply(200, cart_json(cart));
  }));

  router.add("POST", "/v1/store/carts/{id}/checkout",
             store_route(s, [&s](Request& r, const channels::Channel& c) -> Result<Response> {
    QQ_ASSIGN_OR_RETURN(CartId id, cart_id(r));
    QQ_TRY(s.carts.get(c, id));
    QQ_ASSIGN_OR_RETURN(JsonBody body, JsonBody::parse(r));
    body.fields().only({});
    QQ_TRY(body.status());
    checkout::CheckoutRequest request{id, std::string(r.header("idempotency-key").value_or("")),
                                      sha256_hex(id.value + "\n" + body.doc().dump())};
    QQ_ASSIGN_OR_RETURN(checkout::CheckoutResult result, s.checkout.checkout(c, request));
    nlohmann::json out = order_json(result.order, false, result.pickup_code);
    out["access_token"] = result.access_token;
    Response reply = created(out, "/v1/store/orders/" + result.order.id.value);
    if (result.replayed) reply.set_header("Idempotent-Replayed", "true");
    return reply;
  }, Waits::on_plugins));

  register_checkout_step_routes(router, s);
  register_customer_routes(router, s);

  // The order token is a secret a caller may guess: failed attempts are rate limited per order.
  router.add("GET", "/v1/store/orders/{id}", store_route(s, failures_limited(s, "id", [&s](Request& r, const channels::Channel& c) -> Result<Response> {
    std::string token(r.header("x-order-token").value_or(""));
    // Without an order token, the signed-in customer whose cart it was reads it (same channel only).
    QQ_ASSIGN_OR_RETURN(auto customer, signed_in_customer(s, r));
    if (token.empty() && customer && looks_like_id(r.param("id"), "order")) {
      auto order = s.orders.get(OrderId(r.param("id")));
      if (order && order->channel_id == c.id) {
        QQ_ASSIGN_OR_RETURN(auto owner, s.carts.owner(order->cart_id));
        if (owner && *owner == customer->id) return json_reply(200, order_json(*order, false));
      }
      return Error::not_found("order.not_found", "no order '" + r.param("id") + "'");
    }
    QQ_ASSIGN_OR_RETURN(orders::Order order, s.orders.get_with_token(c.id, OrderId(r.param("id")), token));
    // The token opens the sealed pickup code (orders/pickup_code.h): only its holder sees it.
    std::string code;
    if (order.pickup && order.pickup->sealed_code)
      code = orders::unseal_pickup_code(*order.pickup->sealed_code, token, order.id);
    return json_reply(200, order_json(order, false, code));
  })));
}

}  // namespace quanqu::api
