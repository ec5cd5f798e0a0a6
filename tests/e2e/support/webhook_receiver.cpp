// The webhook receiver: a LoopbackServer that records each request behind one mutex and answers as told.
#include "support/webhook_receiver.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>

namespace quanqu::e2e {

struct WebhookReceiver::Impl {
  Impl() : server("webhook receiver", [this](const ReceivedRequest& r) { return handle(r); }) {}

  mutable std::mutex mutex;
  mutable std::condition_variable arrived;
  std::vector<Received> received;
  int failures_left = 0;
  int failure_status = 500;

  LoopbackServer server;  // last: it answers with the members above

  LoopbackReply handle(const ReceivedRequest& request) {
    int status = 200;
    {
      std::lock_guard lock(mutex);
      if (failures_left > 0) {
        --failures_left;
        status = failure_status;
      }
      received.push_back({request, status});
    }
    arrived.notify_all();
    return {status, status == 200 ? R"({"ok":true})" : R"({"ok":false})"};
  }
};

WebhookReceiver::WebhookReceiver() : impl_(std::make_unique<Impl>()) {}

WebhookReceiver::~WebhookReceiver() = default;  // the server stops first (Impl's last member)

std::string WebhookReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(impl_->server.port()) + path;
}

unsigned short WebhookReceiver::port() const { return impl_->server.port(); }

void WebhookReceiver::fail_next(int count, int status) {
  std::lock_guard lock(impl_->mutex);
  impl_->failures_left = count;
  impl_->failure_status = status;
}

std::vector<WebhookReceiver::Received> WebhookReceiver::received() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::vector<WebhookReceiver::Received> WebhookReceiver::wait_for(std::size_t count,
                                                                 std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  impl_->arrived.wait_for(lock, timeout, [&] { return impl_->received.size() >= count; });
  return impl_->received;
}

std::string WebhookReceiver::signature(const std::string& secret, const std::string& timestamp,
                                       const std::string& body) {
  std::string message = timestamp + "." + body;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length))
    throw std::runtime_error("webhook receiver: HMAC-SHA256 failed");
  static const char* hex = "0123456789abcdef";
  std::string out = "v1=";
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

}  // namespace quanqu::e2e
