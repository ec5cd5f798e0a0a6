// Smoke test of the end-to-end harness: the real server starts, answers /healthz and stops cleanly.
#include "support/fixture.h"

TEST_F(E2ETest, HealthzIsOk) {
  auto r = anonymous().get("/healthz");
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_FALSE(r.header("X-Request-Id").empty());
  EXPECT_EQ(r.header("Server"), "quanqu");
}

TEST_F(E2ETest, KeepAliveConnectionServesSeveralRequests) {
  auto client = anonymous();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client.get("/healthz").status, 200u);
}

TEST_F(E2ETest, DemoKeysAreAnnounced) {
  EXPECT_FALSE(server().admin_key().empty());
  EXPECT_FALSE(server().publishable_key().empty());
  EXPECT_NE(server().output().find("\"listening\""), std::string::npos);
}

TEST_F(E2ETest, SigtermStopsTheServerWithExitCodeZero) {
  EXPECT_EQ(server().stop(), 0) << server().output();
}
