// The core services the API calls, wired once by the executable and shared by every handler.
#pragma once

#include "access/access_service.h"
#include "cart/cart_service.h"
#include "catalog/catalog_service.h"
#include "channels/channel_service.h"
#include "checkout/checkout_service.h"
#include "common/change_counter.h"
#include "customers/customer_service.h"
#include "events/event_bus.h"
#include "fulfilment/shipping_service.h"
#include "http/log.h"
#include "idempotency/idempotency_service.h"
#include "inventory/inventory_service.h"
#include "jobs/job_scheduler.h"
#include "orders/order_service.h"
#include "payments/payment_service.h"
#include "plugins/plugin_host.h"
#include "storage/database.h"
#include "webhooks/webhook_service.h"

#include <memory>

namespace quanqu::api {

class RateLimits;
class HandlerPool;
class OpenApiDocument;  // ops/ops_routes.h

struct Services {
  storage::Database& db;
  ChangeCounter& changes;
  access::AccessService& access;
  channels::ChannelService& channels;
  catalog::CatalogService& catalog;
  inventory::InventoryService& inventory;
  cart::CartService& carts;
  checkout::CheckoutService& checkout;
  orders::OrderService& orders;
  payments::PaymentService& payments;
  customers::CustomerService& customers;
  fulfilment::ShippingService& shipping;
  plugins::PluginHost& plugins;
  events::EventBus& events;
  idempotency::IdempotencyService& idempotency;
  webhooks::WebhookService& webhooks;
  jobs::JobScheduler& jobs;
  // Where handlers log the internal cause of a 5xx; nothing is logged when null.
  http::Logger* log = nullptr;
  // The rate limits of store, admin and plugin routes (routes/rate_limits.h); none when null.
  RateLimits* limits = nullptr;
  // Where handlers that wait on plugins run (routes/handler_pool.h); on the io thread when null.
  HandlerPool* handlers = nullptr;
};

// Options of the API itself (not of the transport).
struct ApiOptions {
  int catalog_cache_ttl_ms = 1000;  // 0 disables the store catalog response cache
  // What GET /v1/openapi.json serves; null: the compiled-in document as is.
  std::shared_ptr<const OpenApiDocument> openapi;
};

}  // namespace quanqu::api
