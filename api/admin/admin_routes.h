// The admin API (/v1/admin/...): catalog, stock, channels, orders, webhooks and jobs for merchants.
#pragma once

#include "http/router.h"
#include "routes/services.h"

namespace quanqu::api {

void register_admin_catalog_routes(http::Router& router, Services& services);
void register_admin_inventory_routes(http::Router& router, Services& services);
void register_admin_channel_routes(http::Router& router, Services& services);
void register_admin_order_routes(http::Router& router, Services& services);
void register_admin_webhook_routes(http::Router& router, Services& services);
void register_admin_job_routes(http::Router& router, Services& services);
// Customers (one account, export and erasure) and customer groups (membership tiers).
void register_admin_customer_routes(http::Router& router, Services& services);
// Reports computed in the database: sales per channel, location or day (JSON or CSV).
void register_admin_report_routes(http::Router& router, Services& services);

inline void register_admin_routes(http::Router& router, Services& services) {
  register_admin_catalog_routes(router, services);
  register_admin_inventory_routes(router, services);
  register_admin_channel_routes(router, services);
  register_admin_order_routes(router, services);
  register_admin_webhook_routes(router, services);
  register_admin_job_routes(router, services);
  register_admin_customer_routes(router, services);
  register_admin_report_routes(router, services);
}

}  // namespace quanqu::api
