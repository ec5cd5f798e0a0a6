// Unit test of the template plugin against the SDK's in-memory FakeHost (no server needed).
#include <quanqu/sdk/testing.hpp>

#include <cstdio>
#include <string>

extern "C" const quanqu_plugin_descriptor* quanqu_plugin_entry_v1(void);

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

}  // namespace

int main() {
  quanqu::sdk::testing::FakeHost host(&quanqu_plugin_entry_v1);

  auto first = host.call("GET", "/hello", "", {}, "ch_1");
  check(first.status == 200, "GET /hello is 200, got " + std::to_string(first.status) + " " + first.body);
  check(first.content_type == "application/json", "GET /hello is JSON");
  check(first.body.find("\"visits\":1") != std::string::npos, "first visit counted: " + first.body);
  check(first.body.find("\"channel_id\":\"ch_1\"") != std::string::npos, "channel passed: " + first.body);

  auto set = host.call("PUT", "/greeting", "ni hao");
  check(set.status == 204, "PUT /greeting is 204, got " + std::to_string(set.status));
  check(host.kv["greeting"] == "ni hao", "greeting stored in kv");

  auto second = host.call("GET", "/hello");
  check(second.body.find("\"message\":\"ni hao\"") != std::string::npos, "new greeting: " + second.body);
  check(second.body.find("\"visits\":2") != std::string::npos, "second visit counted: " + second.body);

  check(host.call("PUT", "/greeting", "").status == 400, "empty greeting refused");
  check(host.call("GET", "/nope").status == 404, "unknown route is 404");

  if (failures) return 1;
  std::puts("template plugin: all checks passed");
  return 0;
}
