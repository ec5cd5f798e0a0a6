// The manifest's declared outgoing hosts: what parses, and which URLs they allow.
#include "plugins/manifest.h"
#include "plugins/outgoing_hosts.h"

#include <gtest/gtest.h>

namespace {

using quanqu::plugins::OutgoingHost;
using quanqu::plugins::outgoing_url_allowed;
using quanqu::plugins::parse_manifest;
using quanqu::plugins::parse_outgoing_host;

TEST(OutgoingHostTest, ReadsNamesAddressesAndPorts) {
  EXPECT_EQ(parse_outgoing_host("API.Example.com"), (OutgoingHost{"api.example.com", std::nullopt}));
  EXPECT_EQ(parse_outgoing_host("api.example.com:443"), (OutgoingHost{"api.example.com", 443}));
  EXPECT_EQ(parse_outgoing_host("127.0.0.1:9000"), (OutgoingHost{"127.0.0.1", 9000}));
  EXPECT_EQ(parse_outgoing_host("[::1]:8080"), (OutgoingHost{"::1", 8080}));
  EXPECT_EQ(parse_outgoing_host("[::1]:8080")->text(), "[::1]:8080");
  EXPECT_EQ(parse_outgoing_host("localhost")->text(), "localhost");
}

TEST(OutgoingHostTest, RefusesWhatIsNotABareHost) {
  for (const char* bad : {"", "https://api.example.com", "api.example.com/path", "user@host", "*.example.com",
                          "host:0", "host:65536", "host:", "host:80x", "-bad.example.com", "a..b", "[::1", "[nope]:80",
                          "::1", "exa mple.com", "example.com."}) {
    std::string why;
    EXPECT_FALSE(parse_outgoing_host(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
  EXPECT_FALSE(parse_outgoing_host(std::string(254, 'a')));
}

TEST(OutgoingHostTest, AUrlIsAllowedOnlyForADeclaredHostAndPort) {
  std::vector<OutgoingHost> hosts{{"api.example.com", std::nullopt}, {"127.0.0.1", 9000}, {"::1", 443}};
  EXPECT_TRUE(outgoing_url_allowed(hosts, "https://api.example.com/v1/pay?x=1"));
  EXPECT_TRUE(outgoing_url_allowed(hosts, "HTTP://API.EXAMPLE.COM:8080"));
  EXPECT_TRUE(outgoing_url_allowed(hosts, "http://127.0.0.1:9000/hook"));
  EXPECT_TRUE(outgoing_url_allowed(hosts, "https://[::1]/x"));
  EXPECT_FALSE(outgoing_url_allowed(hosts, "http://127.0.0.1/hook"));        // port 80, not 9000
  EXPECT_FALSE(outgoing_url_allowed(hosts, "http://127.0.0.1:9001/"));
  EXPECT_FALSE(outgoing_url_allowed(hosts, "https://evil.com/?api.example.com"));
  EXPECT_FALSE(outgoing_url_allowed(hosts, "https://api.example.com.evil.com/"));
  EXPECT_FALSE(outgoing_url_allowed(hosts, "https://api.example.com@evil.com/"));
  EXPECT_FALSE(outgoing_url_allowed(hosts, "ftp://api.example.com/"));
  EXPECT_FALSE(outgoing_url_allowed(hosts, "https://api.example.com:0/"));
  EXPECT_FALSE(outgoing_url_allowed({}, "https://api.example.com/"));
}

nlohmann::json manifest_with(nlohmann::json network) {
  return {{"name", "p"}, {"version", "1"}, {"sdk_abi", "1.0"}, {"network", std::move(network)}};
}

TEST(OutgoingHostTest, TheManifestDeclaresThemUnderNetworkOutgoing) {
  auto m = parse_manifest(manifest_with({{"outgoing", {"api.example.com", "127.0.0.1:9000"}}}));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->outgoing_hosts, (std::vector<OutgoingHost>{{"api.example.com", std::nullopt}, {"127.0.0.1", 9000}}));
  auto none = parse_manifest({{"name", "p"}, {"version", "1"}, {"sdk_abi", "1.0"}});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->outgoing_hosts.empty());
}

TEST(OutgoingHostTest, AManifestWithABadNetworkNamesEachBadField) {
  auto fields = [](const nlohmann::json& network) {
    auto m = parse_manifest(manifest_with(network));
    std::vector<std::string> out;
    if (!m)
      for (const auto& f : m.error().fields) out.push_back(f.field);
    return out;
  };
  EXPECT_EQ(fields("all"), std::vector<std::string>{"network"});
  EXPECT_EQ(fields({{"outgoing", "api.example.com"}}), std::vector<std::string>{"network/outgoing"});
  EXPECT_EQ(fields({{"incoming", nlohmann::json::array()}}), std::vector<std::string>{"network/incoming"});
  EXPECT_EQ(fields({{"outgoing", {"a.com", 7, "https://b.com", "A.com"}}}),
            (std::vector<std::string>{"network/outgoing/1", "network/outgoing/2", "network/outgoing/3"}));
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 33; ++i) many.push_back("h" + std::to_string(i) + ".example.com");
  EXPECT_EQ(fields({{"outgoing", many}}), std::vector<std::string>{"network/outgoing"});
}

}  // namespace
