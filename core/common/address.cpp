// Address validation and its stored JSON form.
#include "common/address.h"

namespace quanqu {

void Address::validate(Validator& v, const std::string& prefix) const {
  v.text(prefix + "/name", name, 200, false);
  v.text(prefix + "/line1", line1, 300);
  v.text(prefix + "/line2", line2, 300, false);
  v.text(prefix + "/city", city, 100);
  v.text(prefix + "/region", region, 100, false);
  v.text(prefix + "/postal_code", postal_code, 20, false);
  v.text(prefix + "/phone", phone, 40, false);
  bool country_ok = country.size() == 2 && country[0] >= 'A' && country[0] <= 'Z' && country[1] >= 'A' && country[1] <= 'Z';
  if (!country_ok) v.fail(prefix + "/country", "must be an ISO 3166-1 alpha-2 code such as CN");
  if (latitude.has_value() != longitude.has_value())
    v.fail(prefix + "/latitude", "latitude and longitude go together");
  if (latitude && (*latitude < -90 || *latitude > 90)) v.fail(prefix + "/latitude", "must be between -90 and 90");
  if (longitude && (*longitude < -180 || *longitude > 180))
    v.fail(prefix + "/longitude", "must be between -180 and 180");
}

nlohmann::json Address::to_json() const {
  nlohmann::json j{{"name", name},       {"line1", line1},     {"line2", line2}, {"city", city},
                   {"region", region},   {"postal_code", postal_code}, {"country", country}, {"phone", phone}};
  j["latitude"] = latitude ? nlohmann::json(*latitude) : nlohmann::json(nullptr);
  j["longitude"] = longitude ? nlohmann::json(*longitude) : nlohmann::json(nullptr);
  return j;
}

Address Address::from_json(const nlohmann::json& j) {
  Address a;
  a.name = j.value("name", "");
  a.line1 = j.value("line1", "");
  a.line2 = j.value("line2", "");
  a.city = j.value("city", "");
  a.region = j.value("region", "");
  a.postal_code = j.value("postal_code", "");
  a.country = j.value("country", "");
  a.phone = j.value("phone", "");
  if (j.contains("latitude") && j["latitude"].is_number()) a.latitude = j["latitude"].get<double>();
  if (j.contains("longitude") && j["longitude"].is_number()) a.longitude = j["longitude"].get<double>();
  return a;
}

}  // namespace quanqu
