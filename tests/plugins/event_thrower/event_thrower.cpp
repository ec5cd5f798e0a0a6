// Fixture plugin "event-thrower": subscribes to order events and throws from its handler every time.
#include <quanqu/sdk/plugin.hpp>

#include <stdexcept>

namespace {

class EventThrower : public quanqu::sdk::Plugin {
 public:
  void start(quanqu::sdk::Host& host) override {
    host.on("order.*", [](const quanqu::sdk::Event&) { throw std::runtime_error("listener exploded"); });
  }
};

}  // namespace

QUANQU_PLUGIN(EventThrower)
