// A tiny HTTP server on 127.0.0.1 for end-to-end fakes (the card gateway, a webhook endpoint).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace quanqu::e2e {

// One request as it arrived.
struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& name) const;  // "" when absent; name in any case
};

// What a handler answers: the status and a JSON body (sent as application/json).
struct LoopbackReply {
  int status = 200;
  std::string body;
};

// Listens on 127.0.0.1, port 0, and answers every request with `handler`, one at a time on one
// background thread (the handler needs no lock against itself, only against the test thread).
// Connections are kept alive as the client asks. The listener is not inherited by a server the
// test starts later (fork+exec).
class LoopbackServer {
 public:
  using Handler = std::function<LoopbackReply(const ReceivedRequest&)>;

  // Throws std::runtime_error, naming `name`, when it cannot listen.
  LoopbackServer(const std::string& name, Handler handler);
  ~LoopbackServer();  // stop()
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  unsigned short port() const;
  // Stops the thread and closes the listener; later connections are refused. Idempotent; call it
  // from the test thread, not from the handler.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quanqu::e2e
