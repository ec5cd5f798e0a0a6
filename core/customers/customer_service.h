// Customers: who buys, by e-mail, and the sign-in sessions channels (mini-programs, apps) open for them.
#pragma once

#include "common/clock.h"
#include "common/ids.h"
#include "common/result.h"
#include "storage/database.h"

#include <cstdint>
#include <optional>
#include <string>

namespace quanqu::customers {

struct Customer {
  CustomerId id;
  std::string email;  // unique, stored lower case
  std::string name;
  std::string phone;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// What upsert sets; a name or phone left out keeps the stored one (empty for a new customer).
struct CustomerDetails {
  std::string email;
  std::optional<std::string> name;
  std::optional<std::string> phone;
};

// A bearer token for the X-Customer-Token header; only its hash is stored.
struct CustomerSession {
  std::string token;
  CustomerId customer_id;
  std::int64_t expires_at = 0;
};

class CustomerService {
 public:
  static constexpr std::int64_t kMaxSessionMs = 90LL * 24 * 3600 * 1000;  // 90 days

  CustomerService(storage::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Unknown is a 404 `customer.not_found`.
  Result<Customer> get(const CustomerId& id);
  Result<Customer> find_by_email(const std::string& email);
  // Creates the customer with this e-mail, or updates the name and phone of the existing one.
  Result<Customer> upsert(const CustomerDetails& details);
  // Opens a session lasting `ttl_ms` (1 minute to 90 days); `created_by` names who opened it (a plugin).
  Result<CustomerSession> create_session(const CustomerId& id, std::int64_t ttl_ms, const std::string& created_by);
  // The customer a token signs in; unknown or expired is a 401 `auth.customer_token_invalid`.
  Result<Customer> from_token(const std::string& token);

 private:
  static Result<Customer> load(soci::session& sql, const std::string& where, const std::string& value);

  storage::Database& db_;
  const Clock& clock_;
};

}  // namespace quanqu::customers
