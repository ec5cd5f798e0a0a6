// Cart inputs from JSON: the same field rules for the store API and for plugins.
#include "routes/cart_input.h"

#include "pricing/pricing.h"

namespace quanqu::api {

std::optional<cart::AddItem> read_add_item(JsonFields f) {
  f.only({"sku", "variant_id", "quantity"});
  cart::AddItem item;
  if (auto sku = f.string("sku")) item.sku = *sku;
  if (auto id = f.string("variant_id")) item.variant_id = VariantId(*id);
  if (!item.sku && !item.variant_id && !f.has("sku") && !f.has("variant_id"))
    f.fail("sku", "give sku or variant_id");
  auto quantity = f.integer("quantity", true);  // a type error is the field's one error
  item.quantity = quantity.value_or(0);
  if (quantity && (item.quantity < 1 || item.quantity > pricing::kMaxQuantity))
    f.fail("quantity", "must be between 1 and " + std::to_string(pricing::kMaxQuantity));
  return item;
}

cart::CartPatch read_cart_details(JsonFields& f) {
  cart::CartPatch patch;
  if (f.has("email")) patch.email = f.is_null("email") ? std::nullopt : f.string("email");
  if (f.has("shipping_address"))
    patch.shipping_address = f.is_null("shipping_address") ? std::nullopt : f.address("shipping_address");
  if (f.has("metadata")) {
    if (f.is_null("metadata"))
      f.fail("metadata", "must be an object (set a key to null to remove it)");
    else if (const nlohmann::json* metadata = f.object("metadata"))
      patch.metadata = *metadata;
  }
  patch.source = read_source(f);
  return patch;
}

std::optional<std::optional<Source>> read_source(JsonFields& f) {
  if (!f.has("source")) return std::nullopt;
  if (f.is_null("source")) return std::optional<Source>();
  const nlohmann::json* object = f.object("source");
  if (!object) return std::nullopt;
  JsonFields inner(*object, f.path("source"), f.errors());
  inner.only({"plugin", "campaign", "referral"});
  Source source;
  source.plugin = inner.string("plugin", false, 1000);
  source.campaign = inner.string("campaign", false, 1000);
  source.referral = inner.string("referral", false, 1000);
  return std::optional<Source>(std::move(source));
}

std::optional<cart::FulfilmentChoice> read_fulfilment(JsonFields& f) {
  const nlohmann::json* object = f.object("fulfilment");
  if (!object) return std::nullopt;
  JsonFields inner(*object, f.path("fulfilment"), f.errors());
  inner.only({"type", "location_id"});
  cart::FulfilmentChoice choice;
  choice.type = inner.string("type", true).value_or("");
  if (auto location = inner.string("location_id", false, 200)) choice.location_id = LocationId(*location);
  return choice;
}

}  // namespace quanqu::api
