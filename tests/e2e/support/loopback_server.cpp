// The loopback server: an asynchronous Beast server on one background thread, a session per connection.
#include "support/loopback_server.h"

#include "support/http_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fcntl.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <utility>

namespace quanqu::e2e {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

std::string ReceivedRequest::header(const std::string& name) const {
  auto it = headers.find(lower_case(name));
  return it == headers.end() ? std::string() : it->second;
}

struct LoopbackServer::Impl {
  using Request = bhttp::request<bhttp::string_body>;
  using Reply = bhttp::response<bhttp::string_body>;

  explicit Impl(Handler h) : handler(std::move(h)) {}

  Handler handler;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  bool stopped = false;  // only touched by the owning test thread
  unsigned short port = 0;

  // One connection: requests answered in turn until the peer closes or asks to.
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
      reply_ = impl_.answer(request_);
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
      if (ec) return;  // the acceptor was closed
      std::make_shared<Session>(*this, std::move(socket))->read();
      accept();
    });
  }

  Reply answer(const Request& req) {
    ReceivedRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) r.headers[lower_case(std::string(field.name_string()))] = std::string(field.value());
    r.body = req.body();
    LoopbackReply out = handler(r);
    Reply res{static_cast<bhttp::status>(out.status), req.version()};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = std::move(out.body);
    return res;
  }
};

LoopbackServer::LoopbackServer(const std::string& name, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(handler))) {
  tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
  beast::error_code ec;
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(name + ": cannot listen on 127.0.0.1: " + ec.message());
  // Asio does not open sockets close-on-exec: without this a server started later by fork+exec
  // would inherit the listener and keep accepting (and never answering) after stop().
  int fd = impl_->acceptor.native_handle();
  ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

LoopbackServer::~LoopbackServer() { stop(); }

unsigned short LoopbackServer::port() const { return impl_->port; }

void LoopbackServer::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace quanqu::e2e
