// Fixture plugin "thrower": GET /boom throws from its handler, GET /ok answers.
#include <quanqu/sdk/plugin.hpp>

#include <stdexcept>

namespace {

class Thrower : public quanqu::sdk::Plugin {
 public:
  void start(quanqu::sdk::Host& host) override {
    host.route("GET", "/boom",
               [](const quanqu::sdk::Request&) -> quanqu::sdk::Response { throw std::runtime_error("boom"); });
    host.route("GET", "/ok",
               [](const quanqu::sdk::Request&) { return quanqu::sdk::Response::json(200, "{\"ok\":true}"); });
  }
};

}  // namespace

QUANQU_PLUGIN(Thrower)
