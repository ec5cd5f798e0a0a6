// The local-delivery plugin: delivery from the stock location, priced by the distance tier the address falls in.
#include "great_circle.h"

#include <quanqu/sdk/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace local_delivery {
namespace {

using quanqu::sdk::Host;
using quanqu::sdk::Json;
using quanqu::sdk::QuoteRequest;
using quanqu::sdk::Refusal;
using quanqu::sdk::ShippingQuote;

constexpr const char* kDefaultLabel = "Local delivery";

// One price band: addresses up to max_km away pay fee.
struct Tier {
  double max_km = 0;
  std::int64_t fee = 0;  // minor units of the cart's currency
  Json max_km_json;      // max_km as the merchant wrote it (5, not 5.0), for the quote's data
};

// A money amount or count from the config: a JSON integer (or a number with no fraction, which
// the schema's "integer" accepts), not negative.
std::int64_t whole_amount(const Json& value, const char* what) {
  if (value.is_number_integer()) {
    auto n = value.get<std::int64_t>();
    if (n >= 0) return n;
  } else if (value.is_number_float()) {
    double d = value.get<double>();
    if (d >= 0 && d < 9e15 && std::floor(d) == d) return static_cast<std::int64_t>(d);
  }
  throw std::runtime_error(std::string("local-delivery config: ") + what + " must be a whole amount of at least 0");
}

// The config's tiers, nearest first. The schema guarantees their shape; a config that breaks it
// anyway is a broken provider (502), not the shopper's problem.
std::vector<Tier> tiers_of(const Json& config) {
  auto it = config.find("tiers");
  if (it == config.end() || !it->is_array() || it->empty())
    throw std::runtime_error("local-delivery config has no distance tiers");
  std::vector<Tier> tiers;
  for (const Json& t : *it) {
    if (!t.is_object() || !t.contains("max_km") || !t["max_km"].is_number() || !t.contains("fee"))
      throw std::runtime_error("local-delivery config: every tier needs max_km and fee");
    Tier tier{t["max_km"].get<double>(), whole_amount(t["fee"], "fee"), t["max_km"]};
    if (!(tier.max_km > 0) || !std::isfinite(tier.max_km))
      throw std::runtime_error("local-delivery config: max_km must be above 0");
    tiers.push_back(std::move(tier));
  }
  std::stable_sort(tiers.begin(), tiers.end(), [](const Tier& a, const Tier& b) { return a.max_km < b.max_km; });
  return tiers;
}

struct Point {
  double latitude = 0;
  double longitude = 0;
};

// The coordinates of an address-like object: numeric latitude and longitude, in range; nothing
// when either is absent (or null, as the core writes an address without coordinates).
std::optional<Point> point_of(const Json& place) {
  if (!place.is_object()) return std::nullopt;
  auto lat = place.find("latitude"), lon = place.find("longitude");
  if (lat == place.end() || lon == place.end() || !lat->is_number() || !lon->is_number()) return std::nullopt;
  Point p{lat->get<double>(), lon->get<double>()};
  if (!(p.latitude >= -90 && p.latitude <= 90 && p.longitude >= -180 && p.longitude <= 180)) return std::nullopt;
  return p;
}

// A stock location keeps its coordinates in its address; a bare {latitude, longitude} works too.
std::optional<Point> location_point(const Json& location) {
  if (location.is_object()) {
    auto address = location.find("address");
    if (address != location.end())
      if (auto p = point_of(*address)) return p;
  }
  return point_of(location);
}

std::string text_field(const Json& object, const char* field) {
  if (!object.is_object()) return "";
  auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// What the shopper reads for the location: its name, else its code.
std::string location_name(const Json& location) {
  std::string name = text_field(location, "name");
  if (name.empty()) name = text_field(location, "code");
  return name.empty() ? "the store" : name;
}

// km with one decimal ("4.2"), for a distance already rounded to 0.1.
std::string one_decimal(double km) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", km);
  return buf;
}

// A configured reach as the merchant would write it: "15", "7.5", "2.25".
std::string plain_number(double km) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", km);
  std::string text = buf;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

class LocalDelivery : public quanqu::sdk::FulfilmentProvider {
 public:
  ShippingQuote quote(const QuoteRequest& request, const Json& config) override {
    std::vector<Tier> tiers = tiers_of(config);
    std::optional<Point> to = point_of(request.shipping_address);
    if (!to)
      throw Refusal("local-delivery.address_not_located",
                    "local delivery needs the shipping address's latitude and longitude");
    std::optional<Point> from = location_point(request.location);
    if (!from)
      throw Refusal("local-delivery.location_not_located",
                    "local delivery needs the latitude and longitude of " + location_name(request.location));

    double km = great_circle_km(from->latitude, from->longitude, to->latitude, to->longitude);
    double shown_km = std::round(km * 10) / 10;
    auto tier = std::find_if(tiers.begin(), tiers.end(), [km](const Tier& t) { return km <= t.max_km; });
    if (tier == tiers.end()) {
      std::string message = "the address is " + one_decimal(shown_km) + " km from " + location_name(request.location) +
                            "; local delivery reaches " + plain_number(tiers.back().max_km) + " km";
      throw Refusal("local-delivery.out_of_range", message);
    }

    ShippingQuote quote;
    quote.amount = tier->fee;
    auto free_over = config.find("free_over");
    if (free_over != config.end() && !free_over->is_null() && request.subtotal >= whole_amount(*free_over, "free_over"))
      quote.amount = 0;
    std::string label = text_field(config, "label");
    quote.label = (label.empty() ? kDefaultLabel : label) + " (" + one_decimal(shown_km) + " km)";
    quote.data = Json{{"distance_km", shown_km}, {"tier_max_km", tier->max_km_json}};
    return quote;
  }
};

class LocalDeliveryPlugin : public quanqu::sdk::Plugin {
 public:
  void start(Host& host) override { host.provide(delivery_, "local-delivery"); }

 private:
  LocalDelivery delivery_;
};

}  // namespace
}  // namespace local_delivery

QUANQU_PLUGIN(local_delivery::LocalDeliveryPlugin)
