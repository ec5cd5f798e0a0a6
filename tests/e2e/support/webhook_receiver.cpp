// The webhook receiver: an asynchronous Beast server on one background thread, its record behind one mutex.
#include "support/webhook_receiver.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <fcntl.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace quanqu::e2e {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
using Request = bhttp::request<bhttp::string_body>;
using Reply = bhttp::response<bhttp::string_body>;
}  // namespace

std::string WebhookReceiver::Received::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

struct WebhookReceiver::Impl {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  unsigned short port = 0;

  mutable std::mutex mutex;
  mutable std::condition_variable arrived;
  std::vector<Received> received;
  int failures_left = 0;
  int failure_status = 500;

  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(Impl& impl, tcp::socket socket) : impl_(impl), stream_(std::move(socket)) {}
    void read() {
      request_ = {};
      stream_.expires_after(std::chrono::seconds(30));
      bhttp::async_read(stream_, buffer_, request_,
                        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

   private:
    void on_read(beast::error_code ec) {
      if (ec) {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        return;
      }
      reply_ = impl_.handle(request_);
      reply_.keep_alive(request_.keep_alive());
      reply_.prepare_payload();
      bhttp::async_write(stream_, reply_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) return;
        if (!self->reply_.keep_alive()) {
          beast::error_code ignored;
          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
          return;
        }
        self->read();
      });
    }
    Impl& impl_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    Request request_;
    Reply reply_;
  };

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      std::make_shared<Session>(*this, std::move(socket))->read();
      accept();
    });
  }

  Reply handle(const Request& req) {
    Received r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) r.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    r.body = req.body();
    int status = 200;
    {
      std::lock_guard lock(mutex);
      if (failures_left > 0) {
        --failures_left;
        status = failure_status;
      }
      r.answered = status;
      received.push_back(std::move(r));
    }
    arrived.notify_all();
    Reply res{static_cast<bhttp::status>(status), req.version()};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = status == 200 ? R"({"ok":true})" : R"({"ok":false})";
    return res;
  }
};

WebhookReceiver::WebhookReceiver() : impl_(std::make_unique<Impl>()) {
  tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
  beast::error_code ec;
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("webhook receiver: cannot listen on 127.0.0.1: " + ec.message());
  // Not inherited by a server started later by fork+exec (see FakeGateway).
  int fd = impl_->acceptor.native_handle();
  ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

WebhookReceiver::~WebhookReceiver() {
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

std::string WebhookReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + path;
}

unsigned short WebhookReceiver::port() const { return impl_->port; }

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
