// Encodes and decodes the runner protocol's fields, and moves whole frames over a stream socket.
#include "plugins/isolation/wire.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace quanqu::plugins::wire {

Writer& Writer::u8(std::uint8_t v) {
  out_.push_back(static_cast<char>(v));
  return *this;
}

Writer& Writer::u32(std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return *this;
}

Writer& Writer::u64(std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return *this;
}

Writer& Writer::str(std::string_view s) {
  u32(static_cast<std::uint32_t>(s.size()));
  out_.append(s.data(), s.size());
  return *this;
}

Writer& Writer::pairs(const Pairs& p) {
  return pair_range(p, p.size());
}

bool Reader::need(std::size_t n) {
  if (failed_ || p_.size() < n) {
    failed_ = true;
    return false;
  }
  return true;
}

std::uint8_t Reader::u8() {
  if (!need(1)) return 0;
  auto v = static_cast<std::uint8_t>(p_[0]);
  p_.remove_prefix(1);
  return v;
}

std::uint32_t Reader::u32() {
  if (!need(4)) return 0;
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(static_cast<std::uint8_t>(p_[i])) << (8 * i);
  p_.remove_prefix(4);
  return v;
}

std::uint64_t Reader::u64() {
  if (!need(8)) return 0;
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t(static_cast<std::uint8_t>(p_[i])) << (8 * i);
  p_.remove_prefix(8);
  return v;
}

std::string Reader::str() {
  std::uint32_t n = u32();
  if (!need(n)) return {};
  std::string s(p_.substr(0, n));
  p_.remove_prefix(n);
  return s;
}

Pairs Reader::pairs() {
  std::uint32_t n = u32();
  Pairs out;
  // Each pair takes at least 8 bytes: a count beyond what is left is a lie, not an allocation.
  if (failed_ || n > p_.size() / 8) {
    failed_ = true;
    return out;
  }
  out.reserve(n);
  for (std::uint32_t i = 0; i < n && !failed_; ++i) {
    std::string name = str();
    std::string value = str();
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

namespace {

bool write_all(int fd, iovec* iov, int count) {
  while (count > 0) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    // MSG_NOSIGNAL: a peer that died is an error here, not a SIGPIPE for the whole process.
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto left = static_cast<std::size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

bool read_all(int fd, char* out, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::read(fd, out, size);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    out += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Channel::~Channel() {
  if (fd_ >= 0) ::close(fd_);
}

bool Channel::send(Kind kind, std::uint64_t id, std::string_view payload) {
  if (payload.size() > kMaxFrameBytes - 9) return false;
  char header[13];
  auto length = static_cast<std::uint32_t>(payload.size() + 9);
  for (int i = 0; i < 4; ++i) header[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  header[4] = static_cast<char>(kind);
  for (int i = 0; i < 8; ++i) header[5 + i] = static_cast<char>((id >> (8 * i)) & 0xFF);
  iovec iov[2] = {{header, sizeof header}, {const_cast<char*>(payload.data()), payload.size()}};
  std::lock_guard lock(write_mutex_);
  return write_all(fd_, iov, payload.empty() ? 1 : 2);
}

bool Channel::receive(Frame& frame) {
  char header[13];
  if (!read_all(fd_, header, sizeof header)) return false;
  std::uint32_t length = 0;
  for (int i = 0; i < 4; ++i) length |= std::uint32_t(static_cast<std::uint8_t>(header[i])) << (8 * i);
  if (length < 9 || length > kMaxFrameBytes) return false;
  frame.kind = static_cast<Kind>(static_cast<std::uint8_t>(header[4]));
  frame.id = 0;
  for (int i = 0; i < 8; ++i) frame.id |= std::uint64_t(static_cast<std::uint8_t>(header[5 + i])) << (8 * i);
  frame.payload.resize(length - 9);
  return read_all(fd_, frame.payload.data(), frame.payload.size());
}

void Channel::shutdown() {
  ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace quanqu::plugins::wire
