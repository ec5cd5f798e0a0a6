// End to end: request framing (RFC 9112 section 6) over raw sockets: ambiguous framing is refused,
// the connection closed, and nothing after the refused header is ever run as a request.
#include "support/fixture.h"
#include "support/raw_socket.h"

#include <chrono>
#include <string>
#include <thread>

namespace {

using quanqu::e2e::count_responses;
using quanqu::e2e::parse_raw_response;
using quanqu::e2e::RawConnection;
using namespace std::chrono_literals;

// A request body a smuggler hopes is read as the next request.
const std::string kSmuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

class FramingTest : public E2ETest {
 protected:
  RawConnection connect() { return RawConnection("127.0.0.1", server().port()); }

  // The head of a cart-creating request with the demo key and `framing` (header lines, each
  // ending in CRLF), followed by `body`.
  std::string cart_request(const std::string& framing, const std::string& body) {
    return "POST /v1/store/carts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "X-Publishable-Key: " +
           server().publishable_key() + "\r\n" + framing + "\r\n" + body;
  }

  // Sends `raw`, and expects one response with `status` and problem `code`, then a close.
  void expect_refused(const std::string& raw, unsigned status, const std::string& code) {
    SCOPED_TRACE(raw);
    auto c = connect();
    ASSERT_TRUE(c.send(raw));
    std::string got = c.read_until_close(5s);
    EXPECT_TRUE(c.closed()) << "the connection stayed open:\n" << got;
    EXPECT_EQ(count_responses(got), 1) << got;
    auto r = parse_raw_response(got);
    EXPECT_EQ(r.status, status) << got;
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << got;
    if (!code.empty()) {
      EXPECT_NE(r.body.find("\"code\":\"" + code + "\""), std::string::npos) << got;
    }
  }

  // No cart was created by any request so far (the counter of 201s on POST /v1/store/carts).
  void expect_no_cart_created() {
    auto metrics = anonymous().get("/metrics");
    EXPECT_EQ(metrics.body.find("route=\"/v1/store/carts\",status=\"201\""), std::string::npos) << metrics.body;
  }
};

TEST_F(FramingTest, TransferEncodingNotEndingInChunkedIs400AndClosed) {
  std::string body = "{\"zz\":1}" + kSmuggled;
  for (std::string coding : {"gzip", "chunked, gzip", "identity", "xchunked", "chunked;q=1, deflate", ""})
    expect_refused(cart_request("Transfer-Encoding: " + coding + "\r\n", body), 400, "malformed_request");
  // Split over two fields, the last one decides.
  expect_refused(cart_request("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", body), 400,
                 "malformed_request");
  expect_no_cart_created();
}

TEST_F(FramingTest, OtherCodingsBeforeChunkedAre501AndClosed) {
  std::string chunked = "2\r\n{}\r\n0\r\n\r\n" + kSmuggled;
  for (std::string coding : {"gzip, chunked", "deflate,chunked", "x-custom, chunked"})
    expect_refused(cart_request("Transfer-Encoding: " + coding + "\r\n", chunked), 501,
                   "transfer_coding_not_implemented");
  expect_refused(cart_request("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", chunked), 501,
                 "transfer_coding_not_implemented");
  expect_no_cart_created();
}

TEST_F(FramingTest, ChunkedTwiceIs400) {
  expect_refused(cart_request("Transfer-Encoding: chunked, chunked\r\n", "2\r\n{}\r\n0\r\n\r\n"), 400,
                 "malformed_request");
  expect_no_cart_created();
}

TEST_F(FramingTest, ContentLengthWithTransferEncodingIs400AndClosed) {
  std::string body = "2\r\n{}\r\n0\r\n\r\n" + kSmuggled;
  std::string cl = "Content-Length: " + std::to_string(body.size()) + "\r\n";
  expect_refused(cart_request(cl + "Transfer-Encoding: chunked\r\n", body), 400, "malformed_request");
  expect_refused(cart_request("Transfer-Encoding: chunked\r\n" + cl, body), 400, "malformed_request");
  // The case Beast lets through: a non-chunked coding first, then a length.
  expect_refused(cart_request("Transfer-Encoding: gzip\r\nContent-Length: 8\r\n", "{\"zz\":1}" + kSmuggled), 400,
                 "malformed_request");
  expect_no_cart_created();
}

TEST_F(FramingTest, RepeatedOrConflictingContentLengthIs400AndClosed) {
  std::string body = "{}\r\n" + kSmuggled;
  expect_refused(cart_request("Content-Length: 2\r\nContent-Length: 2\r\n", body), 400, "malformed_request");
  expect_refused(cart_request("Content-Length: 2\r\nContent-Length: 6\r\n", body), 400, "malformed_request");
  expect_refused(cart_request("Content-Length: 2, 2\r\n", body), 400, "malformed_request");
  expect_refused(cart_request("Content-Length: 2, 6\r\n", body), 400, "malformed_request");
  expect_refused(cart_request("Content-Length: +2\r\n", body), 400, "malformed_request");
  expect_refused(cart_request("Content-Length: 0x2\r\n", body), 400, "malformed_request");
  expect_no_cart_created();
}

TEST_F(FramingTest, TransferEncodingInHttp10Is400) {
  std::string raw =
      "POST /v1/store/carts HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n"
      "X-Publishable-Key: " +
      server().publishable_key() + "\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
  expect_refused(raw, 400, "malformed_request");
  expect_no_cart_created();
}

TEST_F(FramingTest, BadChunksAndHeaderSyntaxAre400) {
  std::string te = "Transfer-Encoding: chunked\r\n";
  // A chunk size that overflows 64 bits, one that is not hex, and a missing CRLF after the data.
  expect_refused(cart_request(te, "10000000000000002\r\n{}\r\n0\r\n\r\n"), 400, "malformed_request");
  expect_refused(cart_request(te, "zz\r\n{}\r\n0\r\n\r\n"), 400, "malformed_request");
  expect_refused(cart_request(te, "2\r\n{}XX0\r\n\r\n"), 400, "malformed_request");
  // A header name with a space, and a space before the colon.
  expect_refused(cart_request("Bad Name: x\r\nContent-Length: 2\r\n", "{}"), 400, "malformed_request");
  expect_refused(cart_request("Content-Length : 2\r\n", "{}"), 400, "malformed_request");
  // Beast unfolds an obsolete line fold into a space (RFC 9112 section 5.2 allows that), so a
  // folded framing header is one odd value, never a second coding or length.
  expect_refused(cart_request("Transfer-Encoding: gzip\r\n chunked\r\n", "2\r\n{}\r\n0\r\n\r\n" + kSmuggled), 400,
                 "malformed_request");
  expect_refused(cart_request("Content-Length: 2\r\n 2\r\n", "{}" + kSmuggled), 400, "malformed_request");
  // Bare LF line endings.
  expect_refused("POST /v1/store/carts HTTP/1.1\nHost: x\nContent-Length: 2\n\n{}", 400, "malformed_request");
  expect_no_cart_created();
}

TEST_F(FramingTest, ValidChunkedRequestIsServedOnceAndTheConnectionKeptAlive) {
  auto c = connect();
  ASSERT_TRUE(c.send(cart_request("Transfer-Encoding: chunked\r\n", "2\r\n{}\r\n0\r\n\r\n")));
  std::string got = c.read_until("\r\n\r\n", 5s);
  auto r = parse_raw_response(got);
  EXPECT_EQ(r.status, 201u) << got;
  EXPECT_FALSE(c.closed());
  std::this_thread::sleep_for(200ms);  // nothing more arrives: one request, one response
  std::string more = c.read_until("HTTP/1.1", 300ms);
  EXPECT_EQ(count_responses(got + more), 1) << got << more;
}

// Trailer fields are dropped: a credential in the trailer section is never seen by a route.
TEST_F(FramingTest, TrailerFieldsAreIgnored) {
  auto c = connect();
  std::string raw =
      "POST /v1/store/carts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\nX-Publishable-Key: " +
      server().publishable_key() + "\r\n\r\n";
  ASSERT_TRUE(c.send(raw));
  std::string got = c.read_until_close(5s);
  EXPECT_EQ(parse_raw_response(got).status, 401u) << got;
  EXPECT_EQ(count_responses(got), 1) << got;
  expect_no_cart_created();
}

}  // namespace
