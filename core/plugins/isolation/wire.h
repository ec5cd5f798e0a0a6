// The framed protocol between the server and a plugin runner process: message kinds, field encoding, a socket channel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quanqu::plugins::wire {

// A frame on the socket: u32 length of what follows (little endian), u8 kind, u64 id, payload.
// The payload is a sequence of fields written by Writer and read back, in the same order, by
// Reader. A call and its reply share the id; ids are chosen by the side that calls.
enum class Kind : std::uint8_t {
  // server -> runner: what the C ABI lets the host call in a plugin
  load = 1,       // library path; reply: descriptor facts
  init = 2,       // reply: status, message, thrown
  start = 3,      // same reply as init
  stop = 4,       // reply: nothing; the runner exits after it
  route = 5,      // a route handler call; reply: status, failure, the response
  event = 6,      // an event handler call; reply: failure
  provider = 7,   // a provider call; reply: failure, answer
  // runner -> server: what the C ABI lets a plugin call in the host
  host_call = 20,  // u8 HostOp, then its arguments; reply: by op
  log = 21,        // a log line; no reply
  // both directions
  reply = 40,
};

// The host functions a runner forwards to the server (quanqu_host in abi.h; hmac_sha256 and the
// response setters are answered in the runner itself).
enum class HostOp : std::uint8_t {
  now_ms = 1,
  kv_get = 2,
  kv_put = 3,
  kv_delete = 4,
  register_route = 5,
  call = 6,
  subscribe = 7,
  publish = 8,
  register_provider = 9,
  channel_config = 10,
  http_fetch = 11,
  // ABI 1.1
  kv_put_ttl = 12,
  kv_incr = 13,
  kv_cas = 14,
  kv_list = 15,
  set_route_access = 16,
};

// The largest frame either side accepts: the request body limit and an 8 MiB fetch reply fit
// with room to spare; anything larger means a broken or hostile peer and ends the connection.
constexpr std::uint32_t kMaxFrameBytes = 64u << 20;

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Frame {
  Kind kind = Kind::reply;
  std::uint64_t id = 0;
  std::string payload;
};

class Writer {
 public:
  Writer& u8(std::uint8_t v);
  Writer& u32(std::uint32_t v);
  Writer& i32(std::int32_t v) { return u32(static_cast<std::uint32_t>(v)); }
  Writer& u64(std::uint64_t v);
  Writer& i64(std::int64_t v) { return u64(static_cast<std::uint64_t>(v)); }
  Writer& str(std::string_view s);
  Writer& pairs(const Pairs& p);
  template <class PairRange>
  Writer& pair_range(const PairRange& range, std::size_t count) {
    u32(static_cast<std::uint32_t>(count));
    for (std::size_t i = 0; i < count; ++i) str(range[i].first).str(range[i].second);
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads fields back; a read past the end (or a length beyond it) sets failed() and yields zeros
// and empty strings, so a truncated or hostile payload cannot read out of bounds.
class Reader {
 public:
  explicit Reader(std::string_view payload) : p_(payload) {}
  std::uint8_t u8();
  std::uint32_t u32();
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  std::uint64_t u64();
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  std::string str();
  Pairs pairs();
  bool failed() const { return failed_; }

 private:
  bool need(std::size_t n);
  std::string_view p_;
  bool failed_ = false;
};

// One end of the connected stream socket. send() is thread-safe (one frame at a time);
// receive() is for one reader thread. Both return false once the connection is broken.
class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  bool send(Kind kind, std::uint64_t id, std::string_view payload);
  bool receive(Frame& frame);
  // Ends both directions (a blocked receive() returns false); the descriptor closes with the object.
  void shutdown();
  int fd() const { return fd_; }

 private:
  int fd_;
  std::mutex write_mutex_;
};

}  // namespace quanqu::plugins::wire
