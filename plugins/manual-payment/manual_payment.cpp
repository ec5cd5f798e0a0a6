// The manual-payment plugin: a payment method settled outside Quanqu (bank transfer, cash on delivery).
#include <quanqu/sdk/plugin.hpp>

#include <string>

namespace manual_payment {
namespace {

using quanqu::sdk::Host;
using quanqu::sdk::Json;
using quanqu::sdk::PaymentOutcome;
using quanqu::sdk::PaymentSession;

constexpr const char* kDefaultInstructions = "Pay on delivery.";

// What the shopper is told to do; the host fills in the schema's default, this covers a host that did not.
std::string instructions(const Json& config) {
  auto it = config.find("instructions");
  if (it == config.end() || !it->is_string()) return kDefaultInstructions;
  return it->get<std::string>();
}

// There is nothing to hold at a gateway: the order may be placed at once, and the merchant marking
// it paid (once the transfer arrived or the courier brought the cash) is the capture.
class ManualPayments : public quanqu::sdk::PaymentProvider {
 public:
  PaymentOutcome initiate(const PaymentSession& session, const Json& config) override {
    return PaymentOutcome::authorized("manual_" + session.id, Json{{"instructions", instructions(config)}});
  }
  // Later outcomes repeat the session's data: the host stores an outcome's data in place of the
  // session's, and the shopper still needs the instructions after checkout.
  PaymentOutcome authorize(const PaymentSession& session, const Json&) override {
    return PaymentOutcome::authorized(session.reference, session.data);
  }
  PaymentOutcome capture(const PaymentSession& session, const Json&) override {
    PaymentOutcome outcome = PaymentOutcome::captured(session.reference);
    outcome.data = session.data;
    return outcome;
  }
  PaymentOutcome cancel(const PaymentSession&, const Json&) override { return PaymentOutcome::cancelled(); }
  // The merchant gives the money back by hand (a transfer, cash at the counter): recorded, done.
  quanqu::sdk::RefundOutcome refund(const PaymentSession&, const quanqu::sdk::RefundRequest& refund,
                                    const Json&) override {
    return quanqu::sdk::RefundOutcome::succeeded("manual_" + refund.id);
  }
};

class ManualPaymentPlugin : public quanqu::sdk::Plugin {
 public:
  void start(Host& host) override { host.provide(payments_, "manual-payment"); }

 private:
  ManualPayments payments_;
};

}  // namespace
}  // namespace manual_payment

QUANQU_PLUGIN(manual_payment::ManualPaymentPlugin)
