// Fixture plugin "sleeper": slow and endless routes, event handler and payment provider, for the call deadlines.
#include <quanqu/sdk/plugin.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

using quanqu::sdk::Host;
using quanqu::sdk::Json;
using quanqu::sdk::PaymentOutcome;
using quanqu::sdk::PaymentSession;
using quanqu::sdk::Request;
using quanqu::sdk::Response;

// Blocks the calling thread for good, as a plugin stuck on a lost connection would.
[[noreturn]] void hang() {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

void nap(long long ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(std::clamp(ms, 0LL, 600'000LL)));
}

long long query_ms(const Request& r) {
  auto it = r.query.find("ms");
  return it == r.query.end() ? 0 : std::atoll(it->second.c_str());
}

// "sleepy-pay": a session starts at once; authorising it (at checkout) never returns.
class SleepyPay : public quanqu::sdk::PaymentProvider {
 public:
  PaymentOutcome initiate(const PaymentSession& session, const Json&) override {
    return PaymentOutcome::pending("sleepy_" + session.id);
  }
  PaymentOutcome authorize(const PaymentSession&, const Json&) override { hang(); }
  PaymentOutcome capture(const PaymentSession& session, const Json&) override {
    return PaymentOutcome::captured(session.reference);
  }
};

class Sleeper : public quanqu::sdk::Plugin {
 public:
  void start(Host& host) override {
    host_ = &host;
    host.provide(payments_, "sleepy-pay");
    // GET /sleep?ms=N answers after N ms (at most 600000).
    host.route("GET", "/sleep", [](const Request& r) {
      long long ms = query_ms(r);
      nap(ms);
      return Response::json(200, Json{{"slept_ms", ms}}.dump());
    });
    host.route("GET", "/hang", [](const Request&) -> Response { hang(); });
    host.route("GET", "/ok", [](const Request&) { return Response::json(200, R"({"ok":true})"); });
    // POST /nap?ms=N publishes "sleeper.nap"; its handler sleeps N ms, then counts the nap in kv.
    host.route("POST", "/nap", [this](const Request& r) {
      host_->publish("sleeper.nap", Json{{"ms", query_ms(r)}});
      return Response::json(202, R"({"published":"sleeper.nap"})");
    });
    host.route("GET", "/naps", [this](const Request&) {
      auto n = host_->kv_get("naps");
      return Response::json(200, Json{{"naps", n ? std::atoll(n->c_str()) : 0}}.dump());
    });
    host.on("sleeper.nap", [this](const quanqu::sdk::Event& e) {
      nap(e.data.value("ms", 0LL));
      auto n = host_->kv_get("naps");
      host_->kv_put("naps", std::to_string((n ? std::atoll(n->c_str()) : 0) + 1));
    });
  }

 private:
  Host* host_ = nullptr;
  SleepyPay payments_;  // a member: it must outlive stop()
};

}  // namespace

QUANQU_PLUGIN(Sleeper)
