// connect() of the plugin runner, checked against the manifest's declared outgoing hosts.
#include "plugins/isolation/connect_guard.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>

namespace quanqu::plugins {
namespace {

// One resolved address of a declared host.
struct Allowed {
  int family = 0;
  unsigned char address[16] = {};
  std::optional<std::uint16_t> port;
};

struct Guard {
  std::mutex mutex;
  bool active = false;
  std::vector<OutgoingHost> hosts;
  std::vector<Allowed> allowed;
  std::chrono::steady_clock::time_point resolved_at{};
};

Guard& guard() {
  static Guard* g = new Guard;  // never destroyed: plugin threads may connect during exit
  return *g;
}

// Resolves every declared host (the caller holds the mutex).
void resolve(Guard& g) {
  g.allowed.clear();
  for (const auto& h : g.hosts) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    if (::getaddrinfo(h.host.c_str(), nullptr, &hints, &list) != 0) continue;
    for (addrinfo* a = list; a; a = a->ai_next) {
      Allowed entry;
      entry.family = a->ai_family;
      entry.port = h.port;
      if (a->ai_family == AF_INET)
        std::memcpy(entry.address, &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr, 4);
      else if (a->ai_family == AF_INET6)
        std::memcpy(entry.address, &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr, 16);
      else
        continue;
      g.allowed.push_back(entry);
    }
    ::freeaddrinfo(list);
  }
  g.resolved_at = std::chrono::steady_clock::now();
}

// The family, address bytes and port of an IP socket address; false for anything else.
bool ip_of(const sockaddr* addr, socklen_t len, int& family, unsigned char (&address)[16], std::uint16_t& port) {
  if (!addr) return false;
  if (addr->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    family = AF_INET;
    std::memcpy(address, &in->sin_addr, 4);
    port = ntohs(in->sin_port);
    return true;
  }
  if (addr->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    port = ntohs(in6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {  // ::ffff:a.b.c.d is a.b.c.d
      family = AF_INET;
      std::memcpy(address, in6->sin6_addr.s6_addr + 12, 4);
    } else {
      family = AF_INET6;
      std::memcpy(address, &in6->sin6_addr, 16);
    }
    return true;
  }
  return false;
}

bool matches(const std::vector<Allowed>& allowed, int family, const unsigned char (&address)[16], std::uint16_t port) {
  std::size_t size = family == AF_INET ? 4 : 16;
  for (const auto& a : allowed)
    if (a.family == family && std::memcmp(a.address, address, size) == 0 && (!a.port || *a.port == port)) return true;
  return false;
}

// Whether the plugin may connect to `addr` now.
bool may_connect(const sockaddr* addr, socklen_t len) {
  Guard& g = guard();
  std::lock_guard lock(g.mutex);
  if (!g.active) return true;
  if (addr && addr->sa_family == AF_UNSPEC) return true;  // dissolves a datagram socket's association
  int family = 0;
  unsigned char address[16] = {};
  std::uint16_t port = 0;
  if (!ip_of(addr, len, family, address, port)) return false;
  if (matches(g.allowed, family, address, port)) return true;
  if (std::chrono::steady_clock::now() - g.resolved_at < std::chrono::seconds(10)) return false;
  resolve(g);
  return matches(g.allowed, family, address, port);
}

}  // namespace

void guard_connections(std::vector<OutgoingHost> hosts) {
  Guard& g = guard();
  std::lock_guard lock(g.mutex);
  g.hosts = std::move(hosts);
  resolve(g);
  g.active = true;
}

}  // namespace quanqu::plugins

// Overrides the C library's connect for the plugin library the runner loads (the runner exports
// this symbol; see core/CMakeLists.txt). The C library's own lookups (DNS) use an internal alias
// and are not affected.
extern "C" int connect(int fd, const sockaddr* addr, socklen_t len) {
  if (!quanqu::plugins::may_connect(addr, len)) {
    errno = EACCES;
    return -1;
  }
  return static_cast<int>(::syscall(SYS_connect, fd, addr, len));
}
