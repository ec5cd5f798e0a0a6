// POSIX socket plumbing of RawConnection and a minimal parser of the responses it reads.
#include "support/raw_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace quanqu::e2e {
namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in ipv4(const std::string& address, unsigned short port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1)
    throw std::runtime_error("not an IPv4 address: " + address);
  return a;
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

}  // namespace

RawConnection::RawConnection(const std::string& host, unsigned short port, const std::string& bind_address,
                             std::chrono::milliseconds timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  auto fail = [this](const std::string& what) {
    std::string message = what + ": " + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(message);
  };
  if (!bind_address.empty()) {
    auto local = ipv4(bind_address, 0);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) fail("bind " + bind_address);
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Connect without blocking, so the timeout holds even when the server's backlog is full.
  int flags = ::fcntl(fd_, F_GETFL);
  ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  auto remote = ipv4(host, port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    if (errno != EINPROGRESS) fail("connect");
    pollfd p{fd_, POLLOUT, 0};
    int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready <= 0) {
      errno = ready == 0 ? ETIMEDOUT : errno;
      fail("connect");
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      errno = err;
      fail("connect");
    }
  }
  ::fcntl(fd_, F_SETFL, flags);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

RawConnection::RawConnection(RawConnection&& other) noexcept : fd_(other.fd_), closed_(other.closed_) {
  other.fd_ = -1;
}

RawConnection& RawConnection::operator=(RawConnection&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    closed_ = other.closed_;
    other.fd_ = -1;
  }
  return *this;
}

bool RawConnection::send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawConnection::read_some(std::string& out, Clock::time_point deadline) {
  pollfd p{fd_, POLLIN, 0};
  int ready = ::poll(&p, 1, remaining_ms(deadline));
  if (ready <= 0) return false;
  char buf[16384];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) return true;
    closed_ = true;
    return false;
  }
  out.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::string RawConnection::read_until_close(std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = Clock::now() + timeout;
  while (read_some(out, deadline)) {
  }
  return out;
}

std::string RawConnection::read_until(std::string_view marker, std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = Clock::now() + timeout;
  while (out.find(marker) == std::string::npos && read_some(out, deadline)) {
  }
  return out;
}

std::string RawResponse::header(std::string_view name) const {
  std::size_t pos = 0;
  while (pos < headers.size()) {
    auto end = headers.find("\r\n", pos);
    if (end == std::string::npos) end = headers.size();
    std::string_view line(headers.data() + pos, end - pos);
    auto colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) {
      auto value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      return std::string(value);
    }
    pos = end + 2;
  }
  return "";
}

RawResponse parse_raw_response(const std::string& text) {
  RawResponse r;
  if (text.rfind("HTTP/1.", 0) != 0 || text.size() < 12) return r;
  r.status = static_cast<unsigned>(std::atoi(text.substr(9, 3).c_str()));
  auto line_end = text.find("\r\n");
  auto end = text.find("\r\n\r\n");
  if (line_end == std::string::npos || end == std::string::npos) return r;
  r.headers = text.substr(line_end + 2, end - line_end);
  r.body = text.substr(end + 4);
  return r;
}

int count_responses(const std::string& text) {
  int n = 0;
  for (std::size_t pos = 0; (pos = text.find("HTTP/1.", pos)) != std::string::npos; ++pos)
    if ((pos == 0 || text[pos - 1] == '\n') && pos + 12 <= text.size() && text[pos + 8] == ' ' &&
        std::isdigit(static_cast<unsigned char>(text[pos + 9])))
      ++n;
  return n;
}

}  // namespace quanqu::e2e
