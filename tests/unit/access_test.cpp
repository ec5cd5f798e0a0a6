// Tests of API keys: issue, resolve, revoke, and a database failure that must not read as "unknown key".
#include "core_test_support.h"
#include "common/random.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace quanqu {
namespace {

using test_support::CoreEnv;

TEST(AccessService, PublishableKeysResolveToTheirChannelUntilRevoked) {
  CoreEnv env;
  auto location = env.location("access-depot");
  auto channel = env.channel("access-web", {location.id});
  auto issued = CoreEnv::must(env.access.create_publishable_key(channel.id, "Storefront"));
  EXPECT_EQ(issued.secret.rfind("qq_pk_", 0), 0u);

  auto resolved = env.access.resolve_channel(issued.secret);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, std::optional<ChannelId>(channel.id));
  EXPECT_FALSE(CoreEnv::must(env.access.check_admin(issued.secret)));
  EXPECT_EQ(CoreEnv::must(env.access.resolve_channel("qq_pk_unknown")), std::nullopt);

  ASSERT_TRUE(env.access.revoke(channel.id, issued.key.id).ok());
  EXPECT_EQ(CoreEnv::must(env.access.resolve_channel(issued.secret)), std::nullopt);
}

TEST(AccessService, PluginKeysOpenTheirPluginOnlyUntilRevoked) {
  CoreEnv env;
  auto issued = CoreEnv::must(env.access.create_plugin_key("live-room", "Studio tablet"));
  EXPECT_EQ(issued.secret.rfind("qq_plugin_", 0), 0u);
  EXPECT_EQ(issued.key.plugin, std::optional<std::string>("live-room"));
  EXPECT_EQ(CoreEnv::must(env.access.plugin_of_key(issued.secret)), std::optional<std::string>("live-room"));
  // It is neither an admin key nor a storefront key.
  EXPECT_FALSE(CoreEnv::must(env.access.check_admin(issued.secret)));
  EXPECT_EQ(CoreEnv::must(env.access.resolve_channel(issued.secret)), std::nullopt);
  EXPECT_EQ(CoreEnv::must(env.access.plugin_of_key("qq_plugin_unknown")), std::nullopt);
  auto admin = CoreEnv::must(env.access.create_admin_key("ops"));
  EXPECT_EQ(CoreEnv::must(env.access.plugin_of_key(admin.secret)), std::nullopt);

  auto listed = CoreEnv::must(env.access.list_plugin_keys("live-room"));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].hint, issued.key.hint);
  EXPECT_TRUE(CoreEnv::must(env.access.list_plugin_keys("other")).empty());
  // Revoked through another plugin's name: not found, and it keeps working.
  EXPECT_EQ(env.access.revoke_plugin_key("other", issued.key.id).error().code, "api_key.not_found");
  ASSERT_TRUE(env.access.revoke_plugin_key("live-room", issued.key.id).ok());
  EXPECT_EQ(CoreEnv::must(env.access.plugin_of_key(issued.secret)), std::nullopt);
  EXPECT_TRUE(CoreEnv::must(env.access.list_plugin_keys("live-room"))[0].revoked_at.has_value());
}

TEST(AccessService, AdminKeysAreStoredHashedAndRecognised) {
  CoreEnv env;
  auto issued = CoreEnv::must(env.access.create_admin_key("ops"));
  EXPECT_TRUE(CoreEnv::must(env.access.check_admin(issued.secret)));
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM api_keys WHERE key_hash = '" + sha256_hex(issued.secret) + "'"), 1);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM api_keys WHERE key_hash = '" + issued.secret + "'"), 0);
  EXPECT_FALSE(env.access.create_admin_key("short", std::string("too-short")).ok());
}

TEST(AccessService, AHintIsAShortPrefixThatLeavesMostOfTheKeyUnknown) {
  EXPECT_EQ(access::key_hint("qq_admin_0123456789abcdef0123456789abcdef0123456789abcdef"), "qq_admin_012");
  EXPECT_EQ(access::key_hint("sk_configured_24_chars_x"), "sk_con");  // a quarter of 24
  EXPECT_EQ(access::key_hint(""), "");
}

TEST(AccessService, AdminKeysAreListedByTheirHints) {
  CoreEnv env;
  EXPECT_TRUE(CoreEnv::must(env.access.list_admin_keys()).empty());
  auto first = CoreEnv::must(env.access.create_admin_key("first"));
  CoreEnv::must(env.access.create_admin_key("second", std::string("configured-admin-key-0123456789")));
  auto listed = CoreEnv::must(env.access.list_admin_keys());
  ASSERT_EQ(listed.size(), 2u);
  std::map<std::string, std::string> hints;  // label -> hint
  for (const auto& k : listed) hints[k.label] = k.hint;
  EXPECT_EQ(hints["first"], first.key.hint);
  EXPECT_EQ(hints["second"], "configu");  // a quarter of its 31 characters
}

TEST(AccessService, ADatabaseFailureIsAnErrorNotAnUnknownKey) {
  CoreEnv env;
  auto status = env.db().write<Ok>([](soci::session& sql) -> Status {
    sql << "DROP TABLE api_keys";
    return ok_status();
  });
  ASSERT_TRUE(status.ok());
  auto channel = env.access.resolve_channel("qq_pk_whatever");
  ASSERT_FALSE(channel.ok());  // the API answers 5xx here, not 401
  EXPECT_EQ(channel.error().kind, ErrorKind::internal);
  EXPECT_TRUE(channel.error().message.find("DROP") == std::string::npos);  // no SQL in the message
  EXPECT_FALSE(env.access.check_admin("qq_admin_whatever").ok());
}

}  // namespace
}  // namespace quanqu
