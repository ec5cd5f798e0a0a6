// Fixture plugin "crasher": routes that segfault, abort, hang, leak or answer, and state in kv, for process isolation.
#include <quanqu/sdk/plugin.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using quanqu::sdk::Host;
using quanqu::sdk::Json;
using quanqu::sdk::Request;
using quanqu::sdk::Response;

int* volatile nowhere = nullptr;

class Crasher : public quanqu::sdk::Plugin {
 public:
  void start(Host& host) override {
    host_ = &host;
    // GET /ok: the process id (a new one after each restart) and how many calls this process served.
    host.route("GET", "/ok", [this](const Request&) {
      return Response::json(200, Json{{"ok", true}, {"pid", static_cast<long long>(::getpid())}, {"served", ++served_}}.dump());
    });
    host.route("GET", "/segv", [](const Request&) -> Response {
      *nowhere = 42;  // a null pointer dereference: SIGSEGV
      return Response::json(200, "{}");
    });
    host.route("GET", "/abort", [](const Request&) -> Response { std::abort(); });
    // GET /spin: burns CPU on its thread until something stops it.
    host.route("GET", "/spin", [](const Request&) -> Response {
      volatile std::uint64_t n = 0;
      for (;;) n = n + 1;
    });
    host.route("GET", "/hang", [](const Request&) -> Response {
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    });
    // GET /leak: allocates (and touches) memory until the allocator says no, then answers how much it got.
    host.route("GET", "/leak", [](const Request&) {
      static std::vector<void*> kept;  // never freed: a leak that outlives the call
      std::size_t total = 0;
      for (int i = 0; i < 1'000'000; ++i) {
        void* block = std::malloc(16u << 20);
        if (!block) break;
        std::memset(block, 1, 16u << 20);
        kept.push_back(block);
        total += 16u << 20;
      }
      return Response::json(200, Json{{"leaked_mb", total >> 20}}.dump());
    });
    // PUT /kv/{key} stores the body; GET /kv/{key} reads it back: state that survives a restart.
    host.route("PUT", "/kv/{key}", [this](const Request& r) {
      host_->kv_put("k:" + r.params.at("key"), r.body);
      return Response::json(200, R"({"stored":true})");
    });
    host.route("GET", "/kv/{key}", [this](const Request& r) {
      auto value = host_->kv_get("k:" + r.params.at("key"));
      if (!value) return Response::json(404, R"({"found":false})");
      return Response::json(200, Json{{"value", *value}}.dump());
    });
    // GET /connect?host=<IPv4>&port=N: a TCP connect from the plugin's own code, as the network it
    // has allows it (a runner's network namespace and connect guard).
    host.route("GET", "/connect", [](const Request& r) {
      std::string ip(r.query_param("host").value_or("127.0.0.1"));
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(static_cast<std::uint16_t>(std::atoi(std::string(r.query_param("port").value_or("0")).c_str())));
      if (::inet_pton(AF_INET, ip.c_str(), &to.sin_addr) != 1) return Response::json(400, R"({"error":"host"})");
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return Response::json(200, Json{{"connected", false}, {"error", std::strerror(errno)}}.dump());
      int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
      int error = errno;
      ::close(fd);
      return Response::json(200, Json{{"connected", rc == 0}, {"error", rc == 0 ? "" : std::strerror(error)}}.dump());
    });
    // GET /fetch?url=U: an outgoing GET through the host's fetch; its status, or the host's refusal.
    host.route("GET", "/fetch", [this](const Request& r) {
      try {
        auto reply = host_->fetch({"GET", std::string(r.query_param("url").value_or("")), {}, "", 2000});
        return Response::json(200, Json{{"status", reply.status}}.dump());
      } catch (const quanqu::sdk::Error& e) {
        return Response::json(200, Json{{"refused", e.what()}}.dump());
      }
    });
    // POST /events publishes "crasher.ping"; the handler counts it in kv; "crasher.boom" crashes the handler.
    host.route("POST", "/events", [this](const Request& r) {
      host_->publish(r.body == "boom" ? "crasher.boom" : "crasher.ping", Json::object());
      return Response::json(202, "{}");
    });
    host.route("GET", "/events", [this](const Request&) {
      auto n = host_->kv_get("pings");
      return Response::json(200, Json{{"pings", n ? std::atoll(n->c_str()) : 0}}.dump());
    });
    host.on("crasher.ping", [this](const quanqu::sdk::Event&) {
      auto n = host_->kv_get("pings");
      host_->kv_put("pings", std::to_string((n ? std::atoll(n->c_str()) : 0) + 1));
    });
    // After a pause, so that the route that published it has answered before the runner dies.
    host.on("crasher.boom", [](const quanqu::sdk::Event&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      *nowhere = 1;
    });
  }

 private:
  Host* host_ = nullptr;
  std::atomic<long long> served_{0};
};

}  // namespace

QUANQU_PLUGIN(Crasher)
