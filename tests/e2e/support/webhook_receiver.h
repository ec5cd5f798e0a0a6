// A merchant's webhook endpoint on 127.0.0.1 for end-to-end tests: records every delivery, answers as told.
#pragma once

#include "support/loopback_server.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace quanqu::e2e {

// An HTTP server on 127.0.0.1 (port 0) on one background thread. Every request is recorded and
// answered 200 {"ok": true}, except that fail_next(n, status) makes the next n requests get
// `status` instead. It checks nothing itself: tests verify signatures with signature().
class WebhookReceiver {
 public:
  struct Received : ReceivedRequest {
    int answered = 0;  // the status it was given
  };

  // Throws std::runtime_error when it cannot listen.
  WebhookReceiver();
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  // "http://127.0.0.1:<port><path>".
  std::string url(const std::string& path = "/hooks") const;
  unsigned short port() const;

  // The next `count` requests are answered `status` (and recorded) instead of 200.
  void fail_next(int count, int status = 500);
  std::vector<Received> received() const;
  // Waits until at least `count` requests arrived, or `timeout`; returns what arrived.
  std::vector<Received> wait_for(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // "v1=" + lower-case hex HMAC-SHA256(secret, timestamp + "." + body): the Quanqu-Signature value.
  static std::string signature(const std::string& secret, const std::string& timestamp, const std::string& body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quanqu::e2e
