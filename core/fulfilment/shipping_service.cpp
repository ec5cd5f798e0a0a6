// Shipping quotes: the fulfilling location, the provider calls, and storing the choice on the cart.
#include "fulfilment/shipping_service.h"

#include "storage/dynamic_query.h"

#include <algorithm>
#include <map>

namespace quanqu::fulfilment {

using nlohmann::json;

json ShippingOption::to_json() const {
  return {
      {"provider", provider}, {"amount", amount}, {"label", label}, {"location_id", location_id.value}, {"data", data}};
}

ShippingService::ShippingService(storage::Database& db, cart::CartService& carts, Providers& providers)
    : db_(db), carts_(carts), providers_(providers) {}

Result<ShippingService::Prepared> ShippingService::prepare(const channels::Channel& channel, const CartId& id) {
  return db_.read<Prepared>([&](soci::session& sql) -> Result<Prepared> {
    QQ_ASSIGN_OR_RETURN(cart::Cart cart, cart::CartService::load(sql, channel, id));
    if (cart.status != "open")
      return Error::conflict("cart.completed", "the cart was checked out already; start a new cart");
    if (cart.items.empty()) return Error::unprocessable("checkout.empty_cart", "the cart has no items");
    if (!cart.shipping_address) {
      Error e = Error::unprocessable("checkout.missing_details", "set the cart's shipping address first");
      e.fields = {{"shipping_address", "is required to quote shipping"}};
      return e;
    }
    if (channel.location_ids.empty())
      return Error::unprocessable("shipping.no_location", "the channel sells from no stock location");
    // The first location, in the channel's preference order, that holds every line; otherwise
    // the first one (checkout may then split the order over several).
    // One query for every level of the cart's variants, then the choice in memory.
    std::vector<std::string> variants;
    for (const auto& item : cart.items) variants.push_back(item.variant_id.value);
    std::map<std::pair<std::string, std::string>, long long> available;  // (variant, location) -> units
    std::string variant, at;
    long long units = 0;
    storage::DynamicQuery q(sql);
    q.text("SELECT variant_id, location_id, on_hand - reserved FROM inventory_levels WHERE variant_id IN ")
        .in_list(variants)
        .into(variant)
        .into(at)
        .into(units);
    for (bool row = q.execute(); row; row = q.fetch()) available[{variant, at}] = units;
    LocationId chosen = channel.location_ids.front();
    for (const auto& candidate : channel.location_ids) {
      bool holds_all = std::all_of(cart.items.begin(), cart.items.end(), [&](const cart::CartItem& item) {
        auto it = available.find({item.variant_id.value, candidate.value});
        return it != available.end() && it->second >= item.quantity;
      });
      if (holds_all) {
        chosen = candidate;
        break;
      }
    }
    std::string code, name, address;
    sql << "SELECT code, name, address FROM stock_locations WHERE id = :id", soci::into(code), soci::into(name),
        soci::into(address), soci::use(chosen.value);
    json location{{"id", chosen.value}, {"code", code}, {"name", name}, {"address", json::parse(address)}};
    return Prepared{std::move(cart), std::move(location), chosen};
  });
}

Result<ShippingOption> ShippingService::quote(const channels::Channel& channel, const Prepared& p,
                                              const std::string& provider) {
  std::int64_t units = 0;
  for (const auto& i : p.cart.items) units += i.quantity;
  json input{
      {"channel",
       {{"id", channel.id.value}, {"code", channel.code}, {"type", channel.type}, {"currency", channel.currency}}},
      {"cart",
       {{"id", p.cart.id.value},
        {"currency", p.cart.currency},
        {"subtotal", p.cart.totals.subtotal},
        {"item_count", units}}},
      {"location", p.location},
      {"shipping_address", p.cart.shipping_address->to_json()}};
  QQ_ASSIGN_OR_RETURN(json reply,
                      providers_.invoke("fulfilment", provider, "quote", std::move(input), channel.configs));
  auto amount = reply.find("amount");
  if (amount == reply.end() || !amount->is_number_integer() || amount->get<std::int64_t>() < 0) {
    providers_.report_invalid("fulfilment", provider, "no valid amount (a non-negative integer) in its quote");
    return Error::make(ErrorKind::internal, "plugin_error",
                       "fulfilment provider '" + provider + "' quoted no valid amount (a non-negative integer)",
                       json{{"provider", provider}});
  }
  ShippingOption o;
  o.provider = provider;
  o.amount = amount->get<std::int64_t>();
  o.currency = p.cart.currency;
  o.label = reply.contains("label") && reply["label"].is_string() ? reply["label"].get<std::string>() : "";
  if (o.label.empty() || o.label.size() > 200) o.label = provider;
  o.location_id = p.location_id;
  if (reply.contains("data") && reply["data"].is_object()) o.data = reply["data"];
  return o;
}

Result<ShippingOptions> ShippingService::options(const channels::Channel& channel, const CartId& id) {
  QQ_ASSIGN_OR_RETURN(Prepared p, prepare(channel, id));
  ShippingOptions out;
  for (const auto& provider : channel.fulfilment_providers) {
    auto q = quote(channel, p, provider);
    if (q)
      out.items.push_back(std::move(*q));
    else  // one provider's refusal or failure never hides the others' quotes
      out.refusals.push_back({provider, q.error().code, q.error().message});
  }
  return out;
}

Result<cart::Cart> ShippingService::choose(const channels::Channel& channel, const CartId& id,
                                           const std::string& provider) {
  QQ_TRY(
      channels::require_offered(channel.fulfilment_providers, provider, "shipping", "shipping.provider_not_offered"));
  QQ_ASSIGN_OR_RETURN(Prepared p, prepare(channel, id));
  QQ_ASSIGN_OR_RETURN(ShippingOption o, quote(channel, p, provider));
  return carts_.set_shipping(channel, id, cart::CartService::shipping_fingerprint(p.cart), o.to_json());
}

}  // namespace quanqu::fulfilment
