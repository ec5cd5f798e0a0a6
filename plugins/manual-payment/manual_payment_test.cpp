// Unit tests of the manual-payment plugin against the SDK's FakeHost: every operation settles at once.
#include <quanqu/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>
#include <string>

extern "C" const quanqu_plugin_descriptor* quanqu_plugin_entry_v1(void);

namespace {

using quanqu::sdk::testing::FakeHost;
using Json = nlohmann::json;

Json session(const std::string& reference = "") {
  Json s{{"id", "pay_1"},
         {"provider", "manual-payment"},
         {"channel_id", "ch_1"},
         {"cart_id", "cart_1"},
         {"amount", {{"amount", 12345}, {"currency", "CNY"}}},
         {"status", "pending"}};
  if (!reference.empty()) {
    s["reference"] = reference;
    s["data"] = {{"instructions", "Pay on delivery."}};
  }
  return s;
}

Json input(const Json& session, const Json& config = Json{{"instructions", "Pay on delivery."}}) {
  return Json{{"session", session}, {"config", config}};
}

Json manifest() {
  std::ifstream in(QUANQU_PLUGIN_MANIFEST);
  if (!in) throw std::runtime_error("cannot read " QUANQU_PLUGIN_MANIFEST);
  return Json::parse(in);
}

TEST(ManualPayment, ManifestAgreesWithTheLibrary) {
  Json m = manifest();
  EXPECT_EQ(quanqu::sdk::testing::manifest_mismatches(QUANQU_PLUGIN_MANIFEST, &quanqu_plugin_entry_v1),
            std::vector<std::string>{});
  EXPECT_EQ(m.at("provides"), Json::array({"payment_provider"}));
  const Json& schema = m.at("config_schema");
  EXPECT_EQ(schema.at("additionalProperties"), false);
  EXPECT_EQ(schema.at("properties").at("instructions").at("default"), "Pay on delivery.");
  EXPECT_EQ(schema.at("properties").at("instructions").at("maxLength"), 500);
}

TEST(ManualPayment, RegistersOnlyAPaymentProviderNamedManualPayment) {
  FakeHost host(&quanqu_plugin_entry_v1);
  EXPECT_NO_THROW(host.invoke("payment", "manual-payment", "authorize", input(session())));
  EXPECT_THROW(host.invoke("payment", "manual", "authorize", input(session())), std::runtime_error);
  EXPECT_THROW(host.invoke("fulfilment", "manual-payment", "quote", input(session())), std::runtime_error);
}

TEST(ManualPayment, InitiateAuthorisesAtOnceWithTheInstructions) {
  FakeHost host(&quanqu_plugin_entry_v1);
  Json config{{"instructions", "Transfer to ICBC 6222 0000 1234, reference your order number."}};
  Json reply = host.invoke("payment", "manual-payment", "initiate", input(session(), config));
  EXPECT_EQ(reply,
            (Json{{"status", "authorized"},
                  {"reference", "manual_pay_1"},
                  {"data", {{"instructions", "Transfer to ICBC 6222 0000 1234, reference your order number."}}}}));
}

TEST(ManualPayment, InitiateWithoutInstructionsUsesTheDefault) {
  FakeHost host(&quanqu_plugin_entry_v1);
  Json reply = host.invoke("payment", "manual-payment", "initiate", input(session(), Json::object()));
  EXPECT_EQ(reply.at("data").at("instructions"), "Pay on delivery.");
  EXPECT_EQ(reply.at("status"), "authorized");
}

TEST(ManualPayment, AuthorizeIsAuthorizedAndKeepsTheReference) {
  FakeHost host(&quanqu_plugin_entry_v1);
  Json reply = host.invoke("payment", "manual-payment", "authorize", input(session("manual_pay_1")));
  EXPECT_EQ(reply.at("status"), "authorized");
  EXPECT_EQ(reply.at("reference"), "manual_pay_1");
  EXPECT_EQ(reply.at("data"), (Json{{"instructions", "Pay on delivery."}}));  // still shown after checkout
}

TEST(ManualPayment, CaptureIsCaptured) {
  FakeHost host(&quanqu_plugin_entry_v1);
  Json reply = host.invoke("payment", "manual-payment", "capture", input(session("manual_pay_1")));
  EXPECT_EQ(reply.at("status"), "captured");
  EXPECT_EQ(reply.at("reference"), "manual_pay_1");
  EXPECT_EQ(reply.at("data"), (Json{{"instructions", "Pay on delivery."}}));
}

TEST(ManualPayment, CancelIsCancelled) {
  FakeHost host(&quanqu_plugin_entry_v1);
  Json reply = host.invoke("payment", "manual-payment", "cancel", input(session("manual_pay_1")));
  EXPECT_EQ(reply.at("status"), "cancelled");
}

// The merchant gives the money back by hand: recorded and done at once.
TEST(ManualPayment, RefundSucceedsAtOnce) {
  FakeHost host(&quanqu_plugin_entry_v1);
  Json in = input(session("manual_pay_1"));
  in["refund"] = {{"id", "ref_1"}, {"amount", {{"amount", 500}, {"currency", "CNY"}}}, {"reason", "damaged"}};
  in["idempotency_key"] = "ref_1";
  Json reply = host.invoke("payment", "manual-payment", "refund", in);
  EXPECT_EQ(reply["status"], "succeeded");
  EXPECT_EQ(reply["reference"], "manual_ref_1");
}

TEST(ManualPayment, AnUnknownOperationIsNotFound) {
  FakeHost host(&quanqu_plugin_entry_v1);
  EXPECT_THROW(host.invoke("payment", "manual-payment", "settle", input(session())), std::runtime_error);
}

TEST(ManualPayment, TouchesNeitherStorageNorServicesNorTheNetwork) {
  FakeHost host(&quanqu_plugin_entry_v1);
  int fetches = 0;
  host.fetch = [&](const quanqu::sdk::HttpRequest&) {
    ++fetches;
    return quanqu::sdk::HttpReply{200, {}, "{}"};
  };
  for (const char* op : {"initiate", "authorize", "capture", "cancel", "refund"})
    host.invoke("payment", "manual-payment", op, input(session("manual_pay_1")));
  EXPECT_EQ(fetches, 0);
  EXPECT_TRUE(host.kv.empty());
  EXPECT_TRUE(host.calls.empty());
  EXPECT_EQ(host.call("GET", "/").status, 404);  // no routes
}

}  // namespace
