// The demo shop: a believable CNY catalog, three stock locations and a 'web' channel, for trying Quanqu out.
#pragma once

#include "access/access_service.h"
#include "catalog/catalog_service.h"
#include "channels/channel_service.h"
#include "common/result.h"
#include "inventory/inventory_service.h"

#include <string>

namespace quanqu::demo {

// The services the seed writes through; it never touches the database directly, so every
// row it creates passes the same validation as the admin API's.
struct DemoServices {
  catalog::CatalogService& catalog;
  channels::ChannelService& channels;
  inventory::InventoryService& inventory;
  access::AccessService& access;
};

struct DemoResult {
  // False when the database already had a channel with code 'web'; then nothing else was
  // written except one new publishable key for that channel.
  bool created = false;
  // A fresh publishable key of the 'web' channel, labelled "Demo storefront". The secret is
  // shown only here; callers print it so a storefront can be pointed at the demo.
  std::string publishable_key;
  // What this call seeded: products and variants published to 'web' (both 0 when not created).
  int products = 0;
  int variants = 0;
};

// Seeds the demo shop when there is no 'web' channel yet:
//  - categories apparel (t-shirts, hoodies, trousers), shoes (sneakers, boots), home (mugs,
//    textiles, lighting);
//  - about 60 published products with about 200 variants, priced in CNY and USD, with SKUs,
//    EAN-13 barcodes (GS1 China prefix 692), attributes and image URLs under
//    https://images.quanqu.dev/demo/;
//  - stock locations warehouse-shanghai (no pickup), store-shanghai-jingan and
//    store-hangzhou-xihu (pickup), with stock for every variant at all three;
//  - the channel 'web' (CNY, 13 % VAT included in prices) selling from the warehouse, then the
//    two stores, with every demo product published and one publishable key.
// Deterministic: the same catalog, prices, barcodes and stock numbers every time (ids and the
// key differ). The seed is many small transactions, not one; the channel is created last, so
// a seed that failed half-way is finished by running it again (existing locations, categories
// and products with the demo handles are reused, not duplicated).
// Errors are those of the services called; a demo SKU taken by a product of another handle
// is a 409 `variant.sku_taken`.
Result<DemoResult> seed_demo(DemoServices s);

}  // namespace quanqu::demo
