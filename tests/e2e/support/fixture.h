// The gtest fixture of end-to-end tests: one real server per test, with ready-made clients.
#pragma once

#include "support/http_client.h"
#include "support/openapi_conformance.h"
#include "support/server_process.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace quanqu::e2e {

// SetUp starts a ServerProcess (skipping the test when the backend is unavailable, failing it
// when the server does not start); TearDown checks every exchange the test's clients had with the
// server against the OpenAPI document (a failure per nonconforming exchange, naming it), stops the
// server and, if the test failed, prints the tail of the server's output. Override extra_args() to
// pass more command-line flags.
class E2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!ServerProcess::backend_available(&why)) GTEST_SKIP() << why;
    ExchangeLog::instance().take();  // an earlier test's leftovers are not this test's
    try {
      server_ = std::make_unique<ServerProcess>(extra_args());
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    store_ = std::make_unique<HttpClient>(server_->client());
    store_->set_default_header("X-Publishable-Key", server_->publishable_key());
    admin_ = std::make_unique<HttpClient>(server_->client());
    admin_->set_default_header("Authorization", "Bearer " + server_->admin_key());
  }

  void TearDown() override {
    if (!server_) return;
    store_.reset();
    admin_.reset();
    expect_exchanges_documented();
    if (HasFailure()) {
      auto out = server_->output();
      constexpr std::size_t kTail = 16 * 1024;
      if (out.size() > kTail) out = "...\n" + out.substr(out.size() - kTail);
      std::cerr << "--- quanqu server output (" << server_->backend() << ", " << server_->database_url()
                << ") ---\n"
                << out << "--- end of server output ---\n";
    }
    server_.reset();
  }

  // Every exchange recorded since SetUp must be as api/openapi/openapi.json documents it.
  void expect_exchanges_documented() {
    constexpr int kMaxReported = 20;
    std::size_t dropped = 0;
    std::vector<Exchange> exchanges = ExchangeLog::instance().take(&dropped);
    const OpenApiConformance* document = nullptr;
    try {
      document = &OpenApiConformance::shared();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot load the OpenAPI document: " << e.what();
      return;
    }
    int failures = 0;
    for (const auto& exchange : exchanges) {
      std::vector<std::string> violations = document->check(exchange);
      if (violations.empty() || ++failures > kMaxReported) continue;
      std::string reasons;
      for (const auto& v : violations) reasons += "\n    " + v;
      ADD_FAILURE() << "reply not as api/openapi/openapi.json documents it: " << describe(exchange) << reasons;
    }
    if (failures > kMaxReported) ADD_FAILURE() << failures - kMaxReported << " more replies are not as documented";
    if (dropped > 0) std::cerr << dropped << " exchanges were not recorded, so not checked against the document\n";
  }

  // Flags appended to the `serve` command line.
  virtual std::vector<std::string> extra_args() const { return {}; }

  ServerProcess& server() { return *server_; }
  // Sends X-Publishable-Key: the demo publishable key.
  HttpClient& store() { return *store_; }
  // Sends Authorization: Bearer <admin key>.
  HttpClient& admin() { return *admin_; }
  // A fresh client with no credentials.
  HttpClient anonymous() { return server_->client(); }
  // A fresh client sending X-Publishable-Key: `key` (the storefront of a channel a test made).
  HttpClient storefront(const std::string& key) {
    HttpClient c = anonymous();
    c.set_default_header("X-Publishable-Key", key);
    return c;
  }
  // Publishes the products named by handle on the channel and issues it a publishable key,
  // labelled `label`; returns the key (empty, with a test failure, when a step is refused).
  std::string open_storefront(const std::string& channel_id, const std::vector<std::string>& handles,
                              const std::string& label) {
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& handle : handles) {
      auto product = admin().get("/v1/admin/products/" + handle);
      EXPECT_EQ(product.status, 200u) << product.body;
      ids.push_back(product.json().value("id", ""));
    }
    auto published = admin().post("/v1/admin/channels/" + channel_id + "/publish", {{"product_ids", ids}});
    EXPECT_EQ(published.status, 200u) << published.body;
    auto key = admin().post("/v1/admin/channels/" + channel_id + "/publishable-keys", {{"label", label}});
    EXPECT_EQ(key.status, 201u) << key.body;
    return key.status == 201u ? key.json().value("key", "") : std::string();
  }

 private:
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> store_;
  std::unique_ptr<HttpClient> admin_;
};

}  // namespace quanqu::e2e

// End-to-end test files use these unqualified.
using quanqu::e2e::E2ETest;
using quanqu::e2e::Headers;
using quanqu::e2e::HttpClient;
using quanqu::e2e::HttpResponse;
using quanqu::e2e::ServerProcess;
