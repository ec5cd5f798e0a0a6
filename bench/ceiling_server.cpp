// Benchmark ceiling: a bare Boost.Beast HTTP/1.1 keep-alive server answering every request with a constant 1 KB JSON body.
//
// Usage: quanqu_bench_ceiling [--threads N] [--port P] [--timeouts] [--body-bytes B]
// Binds 127.0.0.1 only, prints {"msg":"listening","port":P} once bound (--port 0 picks a free
// port), runs one io_context on N threads and stops on SIGINT/SIGTERM.
//
// Why it looks the way it does: it is the upper bound the real server is compared to, so it
// does what any decent Beast server must do (parse each request with a fresh parser and a body
// limit, honour keep-alive, serialise the response with Beast) and nothing else. By default it
// has no timers, so a session only ever has one operation pending and needs no strand; that is
// safe here because nothing but the session itself touches its socket.
// --timeouts switches to the pattern of Beast's advanced server example (a strand per
// connection, beast::tcp_stream, expires_after before every read), so that the cost of that
// pattern alone can be measured: it is informational, the ratios use the default mode.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::size_t body_size = 1024;  // --body-bytes: 1 KB by default, the size the targets are stated for
constexpr std::uint64_t kRequestBodyLimit = 64 * 1024;
constexpr std::chrono::seconds kIdleTimeout{30};  // --timeouts only

// A product-shaped JSON object padded to exactly body_size bytes.
std::string make_body() {
  const std::string head =
      R"({"id":"prod_ceiling","handle":"ceiling","title":"Ceiling benchmark product",)"
      R"("price":{"amount":1999,"currency":"CNY"},"description":")";
  const std::string tail = R"("})";
  std::string body = head;
  body.append(body_size - head.size() - tail.size(), 'x');
  body += tail;
  return body;
}

const std::string& body() {
  static const std::string b = make_body();
  return b;
}

void fail(beast::error_code ec, const char* what) {
  // Peers closing their connection is the normal end of a benchmark run.
  if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
      ec == asio::error::connection_reset || ec == asio::error::eof ||
      ec == asio::error::broken_pipe)
    return;
  std::fprintf(stderr, "{\"msg\":\"%s failed\",\"error\":\"%s\"}\n", what, ec.message().c_str());
}

// One connection: read a request, write the constant response, repeat while keep-alive.
// Stream is tcp::socket (default mode) or beast::tcp_stream (--timeouts).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTimed = std::is_same_v<Stream, beast::tcp_stream>;

 public:
  explicit Session(tcp::socket socket) : stream_(std::move(socket)) {
    res_.version(11);
    res_.result(http::status::ok);
    res_.set(http::field::server, "quanqu-bench-ceiling");
    res_.set(http::field::content_type, "application/json");
    res_.body() = http::span_body<const char>::value_type(body().data(), body().size());
    res_.prepare_payload();
  }

  void run() { do_read(); }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(kRequestBodyLimit);
    if constexpr (kTimed) stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                       self->on_read(ec, n);
                     });
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "read");
    const auto& req = parser_->get();
    res_.version(req.version());
    res_.keep_alive(req.keep_alive());
    http::async_write(stream_, res_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                        self->on_write(ec, n);
                      });
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "write");
    if (!res_.keep_alive()) {
      if constexpr (kTimed)
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      else
        stream_.shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    do_read();
  }

  Stream stream_;
  beast::flat_buffer buffer_;  // reused across requests on this connection
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::span_body<const char>> res_;  // headers built once, body never copied
};

// Accepts connections and starts a Session for each.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& ioc, tcp::endpoint endpoint, bool timeouts)
      : ioc_(ioc), acceptor_(ioc), timeouts_(timeouts) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }

  void run() { do_accept(); }

 private:
  void do_accept() {
    auto on_accept = [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      self->on_accept(ec, std::move(socket));
    };
    if (timeouts_)
      acceptor_.async_accept(asio::make_strand(ioc_), std::move(on_accept));
    else
      acceptor_.async_accept(ioc_, std::move(on_accept));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec) {
      fail(ec, "accept");
      if (ec == asio::error::operation_aborted) return;
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      if (timeouts_)
        std::make_shared<Session<beast::tcp_stream>>(std::move(socket))->run();
      else
        std::make_shared<Session<tcp::socket>>(std::move(socket))->run();
    }
    do_accept();
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  bool timeouts_;
};

bool parse_number(std::string_view text, int& out) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--threads N] [--port P] [--timeouts] [--body-bytes 256..1048576]\n", argv0);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  int port = 0;
  bool timeouts = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") usage(argv[0]);
    if (arg == "--timeouts") {
      timeouts = true;
      continue;
    }
    if (i + 1 >= argc) usage(argv[0]);
    const std::string_view value = argv[++i];
    if (arg == "--threads") {
      if (!parse_number(value, threads) || threads < 1 || threads > 256) usage(argv[0]);
    } else if (arg == "--port") {
      if (!parse_number(value, port) || port < 0 || port > 65535) usage(argv[0]);
    } else if (arg == "--body-bytes") {
      int bytes = 0;
      if (!parse_number(value, bytes) || bytes < 256 || bytes > (1 << 20)) usage(argv[0]);
      body_size = static_cast<std::size_t>(bytes);
    } else {
      usage(argv[0]);
    }
  }

  asio::io_context ioc{threads};
  std::shared_ptr<Listener> listener;
  try {
    listener = std::make_shared<Listener>(
        ioc, tcp::endpoint{asio::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(port)},
        timeouts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "{\"msg\":\"bind failed\",\"error\":\"%s\"}\n", e.what());
    return 1;
  }
  listener->run();

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });

  std::printf("{\"msg\":\"listening\",\"port\":%u}\n", listener->port());
  std::fflush(stdout);

  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  return 0;
}
