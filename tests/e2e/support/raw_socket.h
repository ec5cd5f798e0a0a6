// A raw TCP connection for end-to-end tests that send what no HTTP client would (bad framing, idle sockets).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu::e2e {

// One blocking IPv4 TCP connection. Not thread-safe; movable, not copyable; closes on destruction.
class RawConnection {
 public:
  // Connects to host:port (IPv4 literals only). With `bind_address` (e.g. "127.0.0.2", any
  // address of 127.0.0.0/8 works on Linux) the connection comes from that address, so a test
  // can act as several clients. Throws std::runtime_error when the connection cannot be made
  // within `timeout`.
  RawConnection(const std::string& host, unsigned short port, const std::string& bind_address = "",
                std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~RawConnection();
  RawConnection(RawConnection&& other) noexcept;
  RawConnection& operator=(RawConnection&& other) noexcept;
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Writes all of `data`; false when the peer has gone (EPIPE, reset).
  bool send(std::string_view data);

  // Reads until the peer closes the connection or `timeout` passes, whichever comes first, and
  // returns what arrived. closed() then says whether the peer closed (EOF or reset).
  std::string read_until_close(std::chrono::milliseconds timeout);

  // Reads until `marker` has arrived (or the peer closes, or `timeout` passes); returns what arrived.
  std::string read_until(std::string_view marker, std::chrono::milliseconds timeout);

  bool closed() const { return closed_; }

 private:
  // One read of what is available within the deadline; false on close, error or timeout.
  bool read_some(std::string& out, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  bool closed_ = false;
};

// A raw HTTP/1.1 response as read off the wire.
struct RawResponse {
  unsigned status = 0;  // 0 when `text` does not start with a status line
  std::string headers;  // the header section, as sent
  std::string body;     // everything after the header section (up to the next response, if any)
  // The value of the first header with this name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

// Parses the first response in `text`.
RawResponse parse_raw_response(const std::string& text);

// How many status lines ("HTTP/1.1 NNN") start a line in `text`: the number of responses read.
int count_responses(const std::string& text);

}  // namespace quanqu::e2e
