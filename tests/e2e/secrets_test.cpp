// End to end: the server never writes an admin key to its log; a key it makes itself is shown
// once, on the terminal (stderr), and a restart shows only its hint.
#include "support/fixture.h"

#include <nlohmann/json.hpp>

#include <regex>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

// Every admin secret the server's own generator could have written ("qq_admin_" + 48 hex digits).
std::vector<std::string> generated_admin_keys(const std::string& text) {
  static const std::regex kKey("qq_admin_[0-9a-f]{48}");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kKey); it != std::sregex_iterator(); ++it)
    out.push_back(it->str());
  return out;
}

// The stdout lines (the JSON log), without the captured stderr lines.
std::string log_lines(const std::string& output) {
  std::string out, line;
  for (std::size_t start = 0; start < output.size();) {
    auto nl = output.find('\n', start);
    line = output.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (line.rfind("stderr: ", 0) != 0) out += line + "\n";
    start = nl == std::string::npos ? output.size() : nl + 1;
  }
  return out;
}

// The "demo keys" log line as JSON (null when absent).
json demo_keys_line(const std::string& output) {
  std::string line;
  for (std::size_t start = 0; start < output.size();) {
    auto nl = output.find('\n', start);
    line = output.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("msg", "") == "demo keys") return j;
    start = nl == std::string::npos ? output.size() : nl + 1;
  }
  return nullptr;
}

class SecretsTest : public E2ETest {};

TEST_F(SecretsTest, AConfiguredAdminKeyIsNeverWrittenOut) {
  const std::string key = server().admin_key();
  ASSERT_EQ(admin().get("/v1/admin/products?limit=1").status, 200u);
  auto output = server().output();
  EXPECT_EQ(output.find(key), std::string::npos) << output;
  // The log names the key by a short prefix, enough to tell keys apart and no more.
  json keys = demo_keys_line(output);
  ASSERT_TRUE(keys.is_object()) << output;
  std::string hint = keys.value("admin_key_hint", "");
  EXPECT_FALSE(hint.empty()) << keys.dump();
  EXPECT_EQ(key.rfind(hint, 0), 0u) << keys.dump();
  EXPECT_LE(hint.size() * 4, key.size()) << keys.dump();
  EXPECT_FALSE(keys.contains("admin_key")) << keys.dump();
}

TEST_F(SecretsTest, AGeneratedAdminKeyIsShownOnceOnTheTerminalAndNeverLogged) {
  // A fresh database and no --admin-key: the first start makes a key and shows it on stderr.
  ServerProcess first(ServerProcess::Launch{{}, /*pass_admin_key=*/false, {}});
  auto output = first.output();
  auto shown = generated_admin_keys(output);
  ASSERT_EQ(shown.size(), 1u) << output;
  const std::string key = shown.front();
  EXPECT_EQ(log_lines(output).find(key), std::string::npos) << "the admin key reached the JSON log:\n" << output;

  HttpClient client = first.client();
  client.set_default_header("Authorization", "Bearer " + key);
  EXPECT_EQ(client.get("/v1/admin/products?limit=1").status, 200u);
  std::string hint = demo_keys_line(output).value("admin_key_hint", "");
  EXPECT_FALSE(hint.empty()) << output;
  EXPECT_EQ(key.rfind(hint, 0), 0u) << output;
  first.stop();

  // A restart on the same database makes no new key and shows none: only the same hint.
  ServerProcess again(ServerProcess::Launch{{}, /*pass_admin_key=*/false, first.database_url()});
  auto restarted = again.output();
  EXPECT_TRUE(generated_admin_keys(restarted).empty()) << restarted;
  EXPECT_EQ(demo_keys_line(restarted).value("admin_key_hint", ""), hint) << restarted;
  HttpClient after = again.client();
  after.set_default_header("Authorization", "Bearer " + key);
  EXPECT_EQ(after.get("/v1/admin/products?limit=1").status, 200u);
  again.stop();
  // After both, every line the servers printed is checked once more for the secret.
  EXPECT_EQ(log_lines(first.output() + again.output()).find(key), std::string::npos);
}

}  // namespace
