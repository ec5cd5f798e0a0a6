// Unit tests for customers: upsert by e-mail (case-insensitive) and sign-in sessions that expire on the clock.
#include "core_test_support.h"
#include "customers/customer_service.h"

namespace quanqu::customers {
namespace {

using test_support::CoreEnv;
using test_support::describe;

class CustomersTest : public ::testing::Test {
 protected:
  CustomersTest() : customers(env.db(), env.clock) {}

  Customer must_upsert(const std::string& email, const std::string& name = "Li Lei", const std::string& phone = "") {
    return CoreEnv::must(customers.upsert({email, name, phone}));
  }

  static constexpr std::int64_t kHour = 3600LL * 1000;

  CoreEnv env;
  CustomerService customers;
};

bool has_field(const Error& e, const std::string& field) {
  for (const auto& f : e.fields)
    if (f.field == field) return true;
  return false;
}

TEST_F(CustomersTest, UpsertCreatesThenUpdatesByEmailIgnoringCase) {
  auto created = customers.upsert({"Li.Lei@Example.com", "Li Lei", "+86 138 0000 0000"});
  ASSERT_TRUE(created.ok()) << describe(created);
  EXPECT_TRUE(looks_like_id(created->id.value, "cus"));
  EXPECT_EQ(created->email, "li.lei@example.com");  // stored lower case
  EXPECT_EQ(created->name, "Li Lei");
  EXPECT_EQ(created->phone, "+86 138 0000 0000");
  EXPECT_EQ(created->created_at, env.clock.now_ms());
  EXPECT_EQ(created->updated_at, env.clock.now_ms());

  env.clock.advance(60'000);
  auto updated = customers.upsert({"LI.LEI@EXAMPLE.COM", "Lei Li", "+86 139 0000 0000"});
  ASSERT_TRUE(updated.ok()) << describe(updated);
  EXPECT_EQ(updated->id, created->id);
  EXPECT_EQ(updated->email, "li.lei@example.com");
  EXPECT_EQ(updated->name, "Lei Li");
  EXPECT_EQ(updated->phone, "+86 139 0000 0000");
  EXPECT_EQ(updated->created_at, created->created_at);
  EXPECT_EQ(updated->updated_at, env.clock.now_ms());
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM customers"), 1);

  auto found = customers.find_by_email("li.LEI@example.COM");
  ASSERT_TRUE(found.ok()) << describe(found);
  EXPECT_EQ(found->id, created->id);
  EXPECT_EQ(found->name, "Lei Li");
  auto by_id = customers.get(created->id);
  ASSERT_TRUE(by_id.ok()) << describe(by_id);
  EXPECT_EQ(by_id->email, "li.lei@example.com");

  // Another e-mail is another customer.
  auto other = must_upsert("han.meimei@example.com", "Han Meimei");
  EXPECT_NE(other.id, created->id);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM customers"), 2);
}

TEST_F(CustomersTest, UnknownCustomersAreNotFound) {
  auto r = customers.get(CustomerId("cus_nobody"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::not_found);
  EXPECT_EQ(r.error().code, "customer.not_found");
  auto e = customers.find_by_email("nobody@example.com");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, "customer.not_found");
}

TEST_F(CustomersTest, UpsertChecksItsFields) {
  auto bad_email = customers.upsert({"not-an-email", "Li Lei", ""});
  ASSERT_FALSE(bad_email.ok());
  EXPECT_EQ(bad_email.error().kind, ErrorKind::invalid_argument);
  EXPECT_TRUE(has_field(bad_email.error(), "email"));
  auto no_email = customers.upsert({"", "Li Lei", ""});
  ASSERT_FALSE(no_email.ok());
  EXPECT_TRUE(has_field(no_email.error(), "email"));
  auto long_name = customers.upsert({"a@example.com", std::string(201, 'x'), ""});
  ASSERT_FALSE(long_name.ok());
  EXPECT_TRUE(has_field(long_name.error(), "name"));
  auto long_phone = customers.upsert({"a@example.com", "A", std::string(41, '1')});
  ASSERT_FALSE(long_phone.ok());
  EXPECT_TRUE(has_field(long_phone.error(), "phone"));
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM customers"), 0);
  // Name and phone are optional.
  auto bare = customers.upsert({"a@example.com", "", ""});
  ASSERT_TRUE(bare.ok()) << describe(bare);
}

TEST_F(CustomersTest, ASessionTokenSignsTheCustomerInUntilItExpires) {
  auto c = must_upsert("li.lei@example.com");
  auto s = customers.create_session(c.id, kHour, "wechat-login");
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(s->token.rfind("qq_ct_", 0), 0u);
  EXPECT_EQ(s->customer_id, c.id);
  EXPECT_EQ(s->expires_at, env.clock.now_ms() + kHour);
  // Only a hash is stored, with who opened the session.
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM customer_sessions WHERE token_hash = '" + s->token + "'"), 0);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM customer_sessions WHERE created_by = 'wechat-login'"), 1);

  auto who = customers.from_token(s->token);
  ASSERT_TRUE(who.ok()) << describe(who);
  EXPECT_EQ(who->id, c.id);
  EXPECT_EQ(who->email, "li.lei@example.com");

  env.clock.advance(kHour - 1);
  EXPECT_TRUE(customers.from_token(s->token).ok());
  env.clock.advance(1);  // expires_at itself is too late
  auto expired = customers.from_token(s->token);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().kind, ErrorKind::unauthenticated);
  EXPECT_EQ(expired.error().code, "auth.customer_token_invalid");
}

TEST_F(CustomersTest, UnknownOrMalformedTokensAreUnauthenticated) {
  auto c = must_upsert("li.lei@example.com");
  auto s = CoreEnv::must(customers.create_session(c.id, kHour, "test"));
  for (const std::string& token :
       {std::string("qq_ct_") + std::string(48, '0'), std::string(""), std::string("qq_ct_"), std::string(201, 'a'),
        s.token.substr(0, s.token.size() - 1), s.token + "0"}) {
    auto r = customers.from_token(token);
    ASSERT_FALSE(r.ok()) << token;
    EXPECT_EQ(r.error().kind, ErrorKind::unauthenticated) << token;
    EXPECT_EQ(r.error().code, "auth.customer_token_invalid") << token;
  }
  EXPECT_TRUE(customers.from_token(s.token).ok());
}

TEST_F(CustomersTest, SessionsAreIndependent) {
  auto li = must_upsert("li.lei@example.com");
  auto han = must_upsert("han.meimei@example.com", "Han Meimei");
  auto short_one = CoreEnv::must(customers.create_session(li.id, 60'000, "test"));
  auto long_one = CoreEnv::must(customers.create_session(li.id, 2 * kHour, "test"));
  auto hers = CoreEnv::must(customers.create_session(han.id, kHour, "test"));
  EXPECT_NE(short_one.token, long_one.token);
  EXPECT_EQ(CoreEnv::must(customers.from_token(hers.token)).id, han.id);
  env.clock.advance(60'000);
  EXPECT_FALSE(customers.from_token(short_one.token).ok());
  EXPECT_EQ(CoreEnv::must(customers.from_token(long_one.token)).id, li.id);
  EXPECT_EQ(CoreEnv::must(customers.from_token(hers.token)).id, han.id);
}

TEST_F(CustomersTest, SessionLifetimeIsBounded) {
  auto c = must_upsert("li.lei@example.com");
  for (std::int64_t ttl : {std::int64_t{-1}, std::int64_t{0}, std::int64_t{59'999}, CustomerService::kMaxSessionMs + 1}) {
    auto r = customers.create_session(c.id, ttl, "test");
    ASSERT_FALSE(r.ok()) << ttl;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument) << ttl;
    EXPECT_TRUE(has_field(r.error(), "ttl_ms")) << ttl;
  }
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM customer_sessions"), 0);
  auto shortest = customers.create_session(c.id, 60'000, "test");
  ASSERT_TRUE(shortest.ok()) << describe(shortest);
  auto longest = customers.create_session(c.id, CustomerService::kMaxSessionMs, "test");
  ASSERT_TRUE(longest.ok()) << describe(longest);
  EXPECT_EQ(longest->expires_at, env.clock.now_ms() + 90LL * 24 * 3600 * 1000);
  env.clock.advance(CustomerService::kMaxSessionMs - 1);
  EXPECT_TRUE(customers.from_token(longest->token).ok());
  env.clock.advance(1);
  EXPECT_FALSE(customers.from_token(longest->token).ok());
}

TEST_F(CustomersTest, ASessionNeedsAnExistingCustomer) {
  auto r = customers.create_session(CustomerId("cus_nobody"), kHour, "test");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::not_found);
  EXPECT_EQ(r.error().code, "customer.not_found");
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM customer_sessions"), 0);
}

// ---- Accounts with passwords ----

const std::string kGoodPassword = "plum blossom 1987";

TEST_F(CustomersTest, SignUpHashesThePasswordWithArgon2id) {
  auto c = customers.sign_up({"Mei@Example.com", kGoodPassword, "Han Mei", ""});
  ASSERT_TRUE(c.ok()) << describe(c);
  EXPECT_EQ(c->email, "mei@example.com");
  EXPECT_TRUE(c->has_password);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM customers WHERE password_hash LIKE '$argon2id$%'"), 1);
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM customers WHERE password_hash LIKE '%" + kGoodPassword + "%'"), 0);
  auto again = customers.sign_up({"MEI@example.com", kGoodPassword, "", ""});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "customer.email_taken");
  // A customer a plugin created (no password) cannot be taken over by signing up with their e-mail.
  must_upsert("plugin.made@example.com");
  EXPECT_EQ(customers.sign_up({"plugin.made@example.com", kGoodPassword, "", ""}).error().code, "customer.email_taken");
}

TEST_F(CustomersTest, WeakPasswordsAreRefused) {
  EXPECT_TRUE(CustomerService::is_common_password("password"));
  EXPECT_TRUE(CustomerService::is_common_password("QWERTYUIOP"));
  EXPECT_TRUE(CustomerService::is_common_password("1q2w3e4r5t"));
  EXPECT_FALSE(CustomerService::is_common_password(kGoodPassword));
  for (const std::string& weak : {std::string("1234567890"), std::string("short"), std::string(257, 'x'),
                                  std::string("\xff\xfe invalid utf8")}) {
    auto r = customers.sign_up({"weak@example.com", weak, "", ""});
    ASSERT_FALSE(r.ok()) << weak;
    EXPECT_TRUE(has_field(r.error(), "password")) << weak;
  }
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM customers"), 0);
}

TEST_F(CustomersTest, SignInOpensASessionAndSignOutRevokesIt) {
  auto c = CoreEnv::must(customers.sign_up({"mei@example.com", kGoodPassword, "", ""}));
  auto wrong = customers.sign_in("mei@example.com", "not the password");
  auto unknown = customers.sign_in("nobody@example.com", kGoodPassword);
  must_upsert("nopassword@example.com");
  auto no_password = customers.sign_in("nopassword@example.com", kGoodPassword);
  for (const auto* r : {&wrong, &unknown, &no_password}) {
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().code, "auth.invalid_credentials");
    EXPECT_EQ(r->error().message, wrong.error().message);
  }
  auto s = customers.sign_in("MEI@example.com", kGoodPassword);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(s->customer_id, c.id);
  EXPECT_EQ(s->expires_at, env.clock.now_ms() + CustomerService::kSignInSessionMs);
  EXPECT_EQ(CoreEnv::must(customers.from_token(s->token)).id, c.id);
  EXPECT_TRUE(customers.sign_out(s->token).ok());
  EXPECT_EQ(customers.from_token(s->token).error().code, "auth.customer_token_invalid");
  EXPECT_EQ(customers.sign_out(s->token).error().code, "auth.customer_token_invalid");
}

TEST_F(CustomersTest, IdentitiesBelongToOneCustomer) {
  auto a = must_upsert("a@example.com", "A", "+86 1");
  auto b = must_upsert("b@example.com", "B");
  auto linked = customers.link_identity(a.id, "mini_program.open_id", "o-1", "plugin:mini");
  ASSERT_TRUE(linked.ok()) << describe(linked);
  EXPECT_TRUE(customers.link_identity(a.id, "mini_program.open_id", "o-1", "plugin:other").ok());
  EXPECT_EQ(customers.link_identity(b.id, "mini_program.open_id", "o-1", "plugin:mini").error().code,
            "customer.identity_taken");
  EXPECT_EQ(customers.link_identity(b.id, "email", "A@example.com", "plugin:mini").error().code,
            "customer.identity_taken");
  EXPECT_EQ(CoreEnv::must(customers.find_by_identity("mini_program.open_id", "o-1")).id, a.id);
  EXPECT_EQ(CoreEnv::must(customers.find_by_identity("email", "A@EXAMPLE.com")).id, a.id);
  EXPECT_EQ(CoreEnv::must(customers.find_by_identity("phone", "+86 1")).id, a.id);
  EXPECT_EQ(customers.find_by_identity("mini_program.open_id", "o-2").error().code, "customer.not_found");
  EXPECT_EQ(customers.link_identity(a.id, "Bad Type", "x", "t").error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(customers.link_identity(a.id, "social", std::string(201, 'x'), "t").error().kind,
            ErrorKind::invalid_argument);
  EXPECT_EQ(CoreEnv::must(customers.identities(a.id)).size(), 1u);
}

TEST_F(CustomersTest, AddressesKeepOneDefaultAndAreBounded) {
  auto c = must_upsert("a@example.com");
  Address home;
  home.line1 = "1 Road";
  home.city = "Shanghai";
  home.country = "CN";
  auto first = CoreEnv::must(customers.add_address(c.id, home, false));
  EXPECT_TRUE(first.is_default);
  auto second = CoreEnv::must(customers.add_address(c.id, home, true));
  EXPECT_TRUE(second.is_default);
  EXPECT_FALSE(CoreEnv::must(customers.address(c.id, first.id)).is_default);
  EXPECT_TRUE(customers.remove_address(c.id, second.id).ok());
  EXPECT_TRUE(CoreEnv::must(customers.address(c.id, first.id)).is_default);
  auto other = must_upsert("b@example.com");
  EXPECT_EQ(customers.address(other.id, first.id).error().code, "customer_address.not_found");
  EXPECT_EQ(customers.remove_address(other.id, first.id).error().code, "customer_address.not_found");
  for (std::size_t i = 1; i < CustomerService::kMaxAddresses; ++i) CoreEnv::must(customers.add_address(c.id, home, false));
  EXPECT_EQ(customers.add_address(c.id, home, false).error().code, "customer.too_many_addresses");
}

TEST_F(CustomersTest, EraseAnonymisesThePerson) {
  auto c = CoreEnv::must(customers.sign_up({"gone@example.com", kGoodPassword, "Gone", "+86 2"}));
  auto s = CoreEnv::must(customers.sign_in("gone@example.com", kGoodPassword));
  CoreEnv::must(customers.link_identity(c.id, "social", "s-1", "t"));
  auto erased = customers.erase(c.id);
  ASSERT_TRUE(erased.ok()) << describe(erased);
  EXPECT_EQ(erased->email, "erased+" + c.id.value + "@erased.invalid");
  EXPECT_EQ(erased->name, "");
  EXPECT_EQ(erased->phone, "");
  EXPECT_FALSE(erased->has_password);
  EXPECT_FALSE(customers.from_token(s.token).ok());
  EXPECT_EQ(customers.find_by_identity("social", "s-1").error().code, "customer.not_found");
  EXPECT_EQ(env.scalar("SELECT COUNT(*) FROM customers WHERE erased_at IS NOT NULL"), 1);
}

}  // namespace
}  // namespace quanqu::customers
