// The fixture of end-to-end tests that take payments: the payment plugins loaded, a fake card gateway listening.
#pragma once

#include "support/fake_gateway.h"
#include "support/fixture.h"
#include "support/plugins_dir.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace quanqu::e2e {

// An E2ETest whose server loads the manual-payment and card-gateway reference plugins (copied
// into a temporary --plugins-dir), with a FakeGateway that listens before the server starts and
// stops after it. A test class passes the gateway's options (its API key and webhook secret).
class PaymentProvidersTest : public E2ETest {
 protected:
  explicit PaymentProvidersTest(FakeGateway::Options gateway_options) : gateway_options_(std::move(gateway_options)) {}

  void SetUp() override {
    for (const char* name : {"manual-payment", "card-gateway"})
      plugins_dir_.add(std::filesystem::path(QUANQU_REFERENCE_PLUGINS_DIR) / name);
    gateway_ = std::make_unique<FakeGateway>(gateway_options_);
    E2ETest::SetUp();
  }
  void TearDown() override {
    E2ETest::TearDown();
    gateway_.reset();
  }
  std::vector<std::string> extra_args() const override { return plugins_dir_.args(); }

  FakeGateway& gateway() { return *gateway_; }

  // A channel's provider_config for card-gateway: {"base_url", "api_key", "webhook_secret"}, the
  // key and secret the fake gateway was given.
  nlohmann::json card_gateway_config(const std::string& base_url) const {
    return {{"base_url", base_url},
            {"api_key", gateway_options_.api_key},
            {"webhook_secret", gateway_options_.webhook_secret}};
  }

  // The ids of the demo stock locations, warehouse first.
  nlohmann::json demo_location_ids() {
    nlohmann::json ids = nlohmann::json::array();
    for (const char* code : {"warehouse-shanghai", "store-shanghai-jingan", "store-hangzhou-xihu"}) {
      auto r = admin().get(std::string("/v1/admin/stock-locations/") + code);
      EXPECT_EQ(r.status, 200u) << r.body;
      ids.push_back(r.json().value("id", ""));
    }
    return ids;
  }

 private:
  FakeGateway::Options gateway_options_;
  PluginsDir plugins_dir_;
  std::unique_ptr<FakeGateway> gateway_;
};

}  // namespace quanqu::e2e
