// The template plugin: GET /hello greets and counts visits, PUT /greeting changes the greeting (kept in kv).
#include <quanqu/sdk/plugin.hpp>

#include <string>

namespace {

using quanqu::sdk::Host;
using quanqu::sdk::json_quote;
using quanqu::sdk::Request;
using quanqu::sdk::Response;

class TemplatePlugin : public quanqu::sdk::Plugin {
 public:
  void start(Host& host) override {
    host_ = &host;
    // Mounted at GET /v1/plugins/template/hello.
    host.route("GET", "/hello", [this](const Request& request) { return hello(request); });
    // PUT /v1/plugins/template/greeting with the new greeting as the body.
    host.route("PUT", "/greeting", [this](const Request& request) { return set_greeting(request); });
    host.info("template plugin started");
  }

  void stop() override { host_->info("template plugin stopping"); }

 private:
  Response hello(const Request& request) {
    std::string greeting = host_->kv_get("greeting").value_or("hello from the template plugin");
    auto visits_text = host_->kv_get("visits");
    long long visits = visits_text ? std::stoll(*visits_text) + 1 : 1;
    host_->kv_put("visits", std::to_string(visits));
    std::string body = "{\"message\":" + json_quote(greeting) + ",\"visits\":" + std::to_string(visits) +
                       ",\"channel_id\":" + json_quote(request.channel_id) +
                       ",\"at_ms\":" + std::to_string(host_->now_ms()) + "}";
    return Response::json(200, body);
  }

  Response set_greeting(const Request& request) {
    if (request.body.empty() || request.body.size() > 100)
      return Response::json(400, "{\"error\":\"the greeting is 1 to 100 bytes of text\"}");
    host_->kv_put("greeting", request.body);  // throws on a storage failure: the server answers 502
    return Response{204, "", "", {}};
  }

  Host* host_ = nullptr;
};

}  // namespace

// Exports the plugin: the name must equal plugin.json's "name", the version its "version".
QUANQU_PLUGIN(TemplatePlugin, "template", "0.1.0")
