// Fixture plugin "versioned": one source built as 1.0.0 and as 2.0.0 (the version from each manifest); GET /version.
#include <quanqu/sdk/plugin.hpp>

#include <chrono>
#include <thread>

namespace {

class Versioned : public quanqu::sdk::Plugin {
 public:
  void start(quanqu::sdk::Host& host) override {
    host.route("GET", "/version", [](const quanqu::sdk::Request&) {
      // Slow enough that requests are still running on this build while a reload swaps in the next.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      return quanqu::sdk::Response::json(200, "{\"version\":" + quanqu::sdk::json_quote(QUANQU_PLUGIN_VERSION) + "}");
    });
  }
};

}  // namespace

QUANQU_PLUGIN(Versioned)
