// The shopper data end-to-end tests share: one Shanghai address and amounts of money as the API writes them.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace quanqu::e2e {

// A complete shipping (and billing) address in Shanghai.
inline const nlohmann::json kAddress = {{"name", "Li Lei"},        {"line1", "88 Nanjing West Road"}, {"city", "Shanghai"},
                                        {"postal_code", "200041"}, {"country", "CN"},                  {"phone", "+86 21 5555 0100"}};

// {"amount": amount, "currency": currency}, the API's shape of money.
inline nlohmann::json money(std::int64_t amount, const std::string& currency = "CNY") {
  return {{"amount", amount}, {"currency", currency}};
}

}  // namespace quanqu::e2e
