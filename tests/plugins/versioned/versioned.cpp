// Fixture plugin "versioned": built as 1.0.0 and as 2.0.0 (QQ_FIXTURE_VERSION); GET /version names the build.
#include <quanqu/sdk/plugin.hpp>

#include <chrono>
#include <thread>

#ifndef QQ_FIXTURE_VERSION
#error "build with -DQQ_FIXTURE_VERSION=\"x.y.z\""
#endif

namespace {

class Versioned : public quanqu::sdk::Plugin {
 public:
  void start(quanqu::sdk::Host& host) override {
    host.route("GET", "/version", [](const quanqu::sdk::Request&) {
      // Slow enough that requests are still running on this build while a reload swaps in the next.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      return quanqu::sdk::Response::json(200, "{\"version\":" + quanqu::sdk::json_quote(QQ_FIXTURE_VERSION) + "}");
    });
  }
};

}  // namespace

QUANQU_PLUGIN(Versioned, "versioned", QQ_FIXTURE_VERSION)
