// Core unit-test fixture: a fresh SQLite database in a temporary directory, a settable clock and the services.
#pragma once

#include "access/access_service.h"
#include "cart/cart_service.h"
#include "catalog/catalog_service.h"
#include "channels/channel_service.h"
#include "checkout/checkout_service.h"
#include "common/change_counter.h"
#include "common/clock.h"
#include "common/providers.h"
#include "events/event_bus.h"
#include "payments/payment_service.h"
#include "inventory/inventory_service.h"
#include "orders/order_service.h"
#include "storage/database.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace quanqu::test_support {

// The admin tests act as (a key id as an order's timeline names it).
inline const orders::Actor kTestAdmin = orders::Actor::admin("key_test");

// A clock that only moves when told to.
class TestClock final : public Clock {
 public:
  std::int64_t now_ms() const override { return now_.load(); }
  void set(std::int64_t ms) { now_.store(ms); }
  void advance(std::int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<std::int64_t> now_{1'767'225'600'000};  // 2026-01-01T00:00:00Z
};

// Gives a Result's error as "code: message" for assertion output, or "ok".
template <class T>
std::string describe(const Result<T>& r) {
  return r.ok() ? std::string("ok") : r.error().code + ": " + r.error().message;
}

// One fresh database (migrated) per instance, removed with its directory on destruction.
// Throws on set-up failure; GoogleTest reports the exception as a test failure.
class CoreEnv {
 public:
  CoreEnv()
      : dir_(make_dir()),
        db_(open_db(dir_)),
        events(*db_, clock),
        catalog(*db_, clock, changes),
        channels(*db_, clock, changes),
        inventory(*db_, clock, changes, events),
        access(*db_, clock),
        carts(*db_, clock, events),
        orders(*db_, clock, changes, events),
        payments(*db_, clock, changes, events, providers),
        checkout(*db_, clock, changes, events, payments) {
    events.start();  // the outbox relay, as a server node runs it
  }

  ~CoreEnv() {
    events.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  CoreEnv(const CoreEnv&) = delete;
  CoreEnv& operator=(const CoreEnv&) = delete;

  storage::Database& db() { return *db_; }
  const std::string& dir() const { return dir_; }

  // One number from a query such as "SELECT COUNT(*) FROM orders" (0 for NULL).
  long long scalar(const std::string& query) {
    auto r = db_->read<long long>([&](soci::session& sql) -> Result<long long> {
      long long v = 0;
      soci::indicator ind = soci::i_ok;
      sql << query, soci::into(v, ind);
      return ind == soci::i_ok ? v : 0;
    });
    if (!r) throw std::runtime_error("query failed: " + describe(r));
    return *r;
  }

  // --- Builders for common fixtures; each throws when the service refuses. ---
  inventory::StockLocation location(const std::string& code, const std::string& kind = "warehouse",
                                    bool pickup = false) {
    inventory::NewStockLocation in;
    in.code = code;
    in.name = "Location " + code;
    in.kind = kind;
    in.address = address();
    in.pickup_enabled = pickup;
    return must(inventory.create_location(in));
  }

  channels::Channel channel(const std::string& code, const std::vector<LocationId>& locations,
                            std::int32_t tax_rate_bp = 1300, bool tax_inclusive = true,
                            const std::string& currency = "CNY") {
    channels::NewChannel in{code, "Channel " + code, "web", currency, tax_rate_bp, tax_inclusive, locations};
    return must(channels.create(in));
  }

  // A published product with one variant per SKU at `price` (CNY and USD), not yet on any channel.
  catalog::Product product(const std::string& handle, const std::vector<std::string>& skus, std::int64_t price = 10000,
                           const std::string& title = "", const std::vector<CategoryId>& categories = {}) {
    catalog::NewProduct in;
    in.handle = handle;
    in.title = title.empty() ? "Product " + handle : title;
    in.status = "published";
    in.category_ids = categories;
    for (std::size_t i = 0; i < skus.size(); ++i)
      in.variants.push_back({skus[i], std::nullopt, "Variant " + skus[i], {{"size", std::to_string(i)}},
                             {Money{price, "CNY"}, Money{price / 7, "USD"}}});
    return must(catalog.create_product(in));
  }

  void publish(const channels::Channel& c, const catalog::Product& p) {
    auto s = channels.publish(c.id, {p.id});
    if (!s) throw std::runtime_error("publish failed: " + describe(s));
  }

  void stock(const VariantId& v, const LocationId& l, std::int64_t on_hand) {
    must(inventory.set_on_hand(v, l, on_hand));
  }

  std::int64_t on_hand(const VariantId& v, const LocationId& l) { return level(v, l).on_hand; }
  std::int64_t reserved(const VariantId& v, const LocationId& l) { return level(v, l).reserved; }

  inventory::InventoryLevel level(const VariantId& v, const LocationId& l) {
    inventory::LevelQuery q;
    q.variant_id = v;
    q.location_id = l;
    auto levels = must(inventory.list_levels(q)).items;
    if (levels.size() != 1) throw std::runtime_error("no single level for " + v.value + " at " + l.value);
    return levels.front();
  }

  static Address address() {
    Address a;
    a.name = "Li Lei";
    a.line1 = "1 Test Road";
    a.city = "Shanghai";
    a.country = "CN";
    a.latitude = 31.23;
    a.longitude = 121.47;
    return a;
  }

  template <class T>
  static T must(Result<T> r) {
    if (!r) throw std::runtime_error("unexpected error: " + describe(r));
    return std::move(r).value();
  }

  TestClock clock;
  ChangeCounter changes;

 private:
  static std::string make_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "quanqu-core-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    return tmpl;
  }
  static std::unique_ptr<storage::Database> open_db(const std::string& dir) {
    auto db = storage::Database::open("sqlite:" + dir + "/t.db", 4);
    if (!db) throw std::runtime_error("cannot open test database: " + describe(db));
    auto migrated = (*db)->migrate();
    if (!migrated) throw std::runtime_error("cannot migrate test database: " + describe(migrated));
    return std::move(db).value();
  }

  std::string dir_;
  std::unique_ptr<storage::Database> db_;

 public:
  events::EventBus events;
  NoProviders providers;
  catalog::CatalogService catalog;
  channels::ChannelService channels;
  inventory::InventoryService inventory;
  access::AccessService access;
  cart::CartService carts;
  orders::OrderService orders;
  payments::PaymentService payments;
  checkout::CheckoutService checkout;
};

}  // namespace quanqu::test_support
