// A postal address with optional coordinates, as used by stock locations, carts and orders.
#pragma once

#include "common/validation.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace quanqu {

struct Address {
  std::string name;         // recipient or place name
  std::string line1;
  std::string line2;
  std::string city;
  std::string region;       // province / state
  std::string postal_code;
  std::string country;      // ISO 3166-1 alpha-2, upper case: "CN"
  std::string phone;
  std::optional<double> latitude;   // WGS 84 degrees
  std::optional<double> longitude;

  // Checks lengths, the country code and coordinate ranges; `prefix` names the field ("shipping_address").
  void validate(Validator& v, const std::string& prefix) const;
  nlohmann::json to_json() const;
  static Address from_json(const nlohmann::json& j);  // from a stored, already-valid document
};

}  // namespace quanqu
