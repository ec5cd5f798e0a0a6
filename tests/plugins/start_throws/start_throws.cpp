// Fixture plugin "start-throws": registers a route, then throws from start(); the route must not be mounted.
#include <quanqu/sdk/plugin.hpp>

#include <stdexcept>

namespace {

class StartThrows : public quanqu::sdk::Plugin {
 public:
  void start(quanqu::sdk::Host& host) override {
    host.route("GET", "/never", [](const quanqu::sdk::Request&) { return quanqu::sdk::Response::text(200, "never"); });
    throw std::runtime_error("cannot reach the partner service");
  }
};

}  // namespace

QUANQU_PLUGIN(StartThrows)
