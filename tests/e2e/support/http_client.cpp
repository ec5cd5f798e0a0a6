// Synchronous Beast client: each operation is started async and the private io_context is run
// until it completes, which is how tcp_stream gives blocking calls a deadline.
#include "support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <utility>

namespace quanqu::e2e {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

std::string str(beast::string_view s) { return std::string(s.data(), s.size()); }

}  // namespace

std::string lower_case(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

nlohmann::json HttpResponse::json() const {
  if (body.empty()) return nullptr;
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded())
    throw std::runtime_error("HTTP " + std::to_string(status) + " response is not JSON: " + body.substr(0, 2000));
  return parsed;
}

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(lower_case(name));
  return it == headers.end() ? std::string() : it->second;
}

ExchangeLog& ExchangeLog::instance() {
  static ExchangeLog log;
  return log;
}

void ExchangeLog::add(Exchange exchange) {
  std::lock_guard lock(mutex_);
  if (exchanges_.size() >= kCapacity) {
    ++dropped_;
    return;
  }
  exchanges_.push_back(std::move(exchange));
}

std::vector<Exchange> ExchangeLog::take(std::size_t* dropped) {
  std::lock_guard lock(mutex_);
  if (dropped) *dropped = dropped_;
  dropped_ = 0;
  return std::exchange(exchanges_, {});
}

struct HttpClient::Impl {
  std::string host;
  unsigned short port;
  std::chrono::milliseconds timeout{30000};
  Headers defaults;
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool connected = false;
  bool recording = false;

  template <class Start>
  beast::error_code await(Start start) {
    beast::error_code result = net::error::timed_out;
    stream.expires_after(timeout);
    start([&](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  void connect() {
    disconnect();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (!ec) ec = await([&](auto done) { stream.async_connect(endpoints, done); });
    if (ec) throw std::runtime_error("cannot connect to " + host + ":" + std::to_string(port) + ": " + ec.message());
    connected = true;
  }

  void disconnect() {
    if (!connected) return;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    buffer.clear();
    connected = false;
  }

  // One exchange on the current connection. `got_bytes` tells whether any of the response arrived.
  beast::error_code exchange(bhttp::request<bhttp::string_body>& req, bhttp::response<bhttp::string_body>& res,
                             bool& got_bytes) {
    got_bytes = false;
    auto ec = await([&](auto done) { bhttp::async_write(stream, req, done); });
    if (ec) return ec;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    parser.skip(req.method() == bhttp::verb::head);
    ec = await([&](auto done) { bhttp::async_read(stream, buffer, parser, done); });
    got_bytes = parser.got_some();
    if (!ec) res = parser.release();
    return ec;
  }
};

HttpClient::HttpClient(std::string host, unsigned short port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

void HttpClient::set_default_header(std::string name, std::string value) {
  auto& d = impl_->defaults;
  auto key = lower_case(name);
  d.erase(std::remove_if(d.begin(), d.end(), [&](const auto& h) { return lower_case(h.first) == key; }), d.end());
  if (!value.empty()) d.emplace_back(std::move(name), std::move(value));
}

void HttpClient::set_timeout(std::chrono::milliseconds timeout) { impl_->timeout = timeout; }
void HttpClient::set_recording(bool on) { impl_->recording = on; }

HttpResponse HttpClient::request(std::string method, std::string target, std::optional<std::string> body,
                                 Headers headers) {
  auto& d = *impl_;
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, d.host + ":" + std::to_string(d.port));
  req.set(bhttp::field::user_agent, "quanqu-e2e");
  for (const auto& [k, v] : d.defaults) req.set(k, v);
  if (body) req.set(bhttp::field::content_type, "application/json");
  // A name given here replaces the default; given twice, both values are sent; empty, none is.
  for (const auto& [k, v] : headers) req.erase(k);
  for (const auto& [k, v] : headers)
    if (!v.empty()) req.insert(k, v);
  if (body) {
    req.body() = std::move(*body);
    req.prepare_payload();
  }

  bhttp::response<bhttp::string_body> res;
  beast::error_code ec;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = d.connected;
    if (!d.connected) d.connect();
    bool got_bytes = false;
    ec = d.exchange(req, res, got_bytes);
    if (!ec) break;
    d.disconnect();
    // A keep-alive connection the server closed while idle fails like this; anything else
    // (or a second failure) is real.
    bool stale = reused && !got_bytes && ec != beast::error::timeout;
    if (!stale) break;
  }
  if (ec)
    throw std::runtime_error(method + " " + target + " to " + d.host + ":" + std::to_string(d.port) +
                             " failed: " + ec.message());
  if (!res.keep_alive()) d.disconnect();

  HttpResponse out;
  out.status = res.result_int();
  out.body = std::move(res.body());
  for (const auto& field : res) {
    auto [it, inserted] = out.headers.emplace(lower_case(str(field.name_string())), str(field.value()));
    if (!inserted) it->second += ", " + str(field.value());
  }
  if (d.recording) ExchangeLog::instance().add({method, target, out});
  return out;
}

HttpResponse HttpClient::get(std::string target, Headers headers) {
  return request("GET", std::move(target), std::nullopt, std::move(headers));
}
HttpResponse HttpClient::post(std::string target, const nlohmann::json& body, Headers headers) {
  return request("POST", std::move(target), body.dump(), std::move(headers));
}
HttpResponse HttpClient::patch(std::string target, const nlohmann::json& body, Headers headers) {
  return request("PATCH", std::move(target), body.dump(), std::move(headers));
}
HttpResponse HttpClient::put(std::string target, const nlohmann::json& body, Headers headers) {
  return request("PUT", std::move(target), body.dump(), std::move(headers));
}
HttpResponse HttpClient::del(std::string target, Headers headers) {
  return request("DELETE", std::move(target), std::nullopt, std::move(headers));
}

void HttpClient::disconnect() { impl_->disconnect(); }
const std::string& HttpClient::host() const { return impl_->host; }
unsigned short HttpClient::port() const { return impl_->port; }

}  // namespace quanqu::e2e
