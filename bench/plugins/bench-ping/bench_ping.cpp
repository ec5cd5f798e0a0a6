// The bench-ping plugin: one route, GET /v1/plugins/bench-ping/ping, answering a fixed small JSON
// body with no key-value or core-service call. bench/run.sh measures it against GET /healthz and
// the bare ceiling, so that the difference is what the plugin boundary itself costs.
#include <quanqu/sdk/plugin.hpp>

#include <string>

namespace bench_ping {
namespace {

using quanqu::sdk::Host;
using quanqu::sdk::Request;
using quanqu::sdk::Response;

// 100 bytes, built once; a reply copies it (the SDK's Response owns its body).
const std::string& body() {
  static const std::string text =
      R"({"status":"ok","plugin":"bench-ping","pong":true,"note":"fixed reply of the plugin-route benchmark"})";
  return text;
}

class BenchPing : public quanqu::sdk::Plugin {
 public:
  void start(Host& host) override {
    host.route("GET", "/ping", [](const Request&) { return Response::json(200, body()); });
  }
};

}  // namespace
}  // namespace bench_ping

QUANQU_PLUGIN(bench_ping::BenchPing)
