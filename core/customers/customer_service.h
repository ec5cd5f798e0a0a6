// Customers: accounts (e-mail and password), sign-in sessions, addresses, identities, groups, data rights.
#pragma once

#include "common/address.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/result.h"
#include "storage/database.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quanqu {
using CustomerAddressId = Id<struct CustomerAddressTag>;
using CustomerGroupId = Id<struct CustomerGroupTag>;
}  // namespace quanqu

namespace quanqu::customers {

struct Customer {
  CustomerId id;
  std::string email;  // unique, stored lower case
  std::string name;
  std::string phone;
  std::optional<CustomerGroupId> group_id;
  bool has_password = false;  // false for customers a plugin created (customers.upsert)
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// What upsert sets; a name or phone left out keeps the stored one (empty for a new customer).
struct CustomerDetails {
  std::string email;
  std::optional<std::string> name;
  std::optional<std::string> phone;
};

// A store sign-up.
struct SignUp {
  std::string email;
  std::string password;
  std::string name;
  std::string phone;
};

// What a customer may change about themselves; left out: kept.
struct CustomerPatch {
  std::optional<std::string> name;
  std::optional<std::string> phone;
};

// A bearer token (Authorization: Bearer on the store API, X-Customer-Token on plugin routes);
// only its SHA-256 is stored.
struct CustomerSession {
  std::string token;
  CustomerId customer_id;
  std::int64_t expires_at = 0;
};

struct SavedAddress {
  CustomerAddressId id;
  Address address;
  bool is_default = false;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// An identity of the customer on some channel: (type, value) resolves to exactly one customer.
// Types are slugs such as "email", "phone", "mini_program.open_id", "mini_program.union_id".
struct Identity {
  std::string type;
  std::string value;
  CustomerId customer_id;
  std::string linked_by;  // "plugin:<name>", "admin"
  std::int64_t created_at = 0;
};

struct Group {
  CustomerGroupId id;
  std::string code;  // unique handle ("gold")
  std::string name;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// An e-mail as stored and compared: ASCII lower case.
std::string lower_email(std::string email);

class CustomerService {
 public:
  static constexpr std::int64_t kMaxSessionMs = 90LL * 24 * 3600 * 1000;  // 90 days
  static constexpr std::int64_t kSignInSessionMs = 30LL * 24 * 3600 * 1000;  // store sign-in: 30 days
  static constexpr std::size_t kMinPasswordBytes = 10;
  static constexpr std::size_t kMaxPasswordBytes = 256;
  static constexpr std::size_t kMaxAddresses = 20;   // per customer
  static constexpr std::size_t kMaxIdentities = 50;  // per customer
  static constexpr std::size_t kMaxGroups = 200;

  CustomerService(storage::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  // ---- Accounts ----
  // Unknown is a 404 `customer.not_found`.
  Result<Customer> get(const CustomerId& id);
  Result<Customer> find_by_email(const std::string& email);
  // Creates the customer with this e-mail, or updates the name and phone of the existing one.
  Result<Customer> upsert(const CustomerDetails& details);
  // Field checks of a sign-up, without the database: e-mail, name, phone and the password
  // (kMinPasswordBytes..kMaxPasswordBytes, valid UTF-8, not one of the common passwords).
  static Status validate(const SignUp& in);
  static Status validate(const CustomerPatch& in);
  // True when `password` is (case-insensitively) in the compiled-in list of common passwords.
  static bool is_common_password(std::string_view password);
  // Creates an account with an Argon2id password hash (libsodium crypto_pwhash_str). An e-mail
  // that already has a customer is a 409 `customer.email_taken`.
  Result<Customer> sign_up(const SignUp& in);
  // Checks the password and opens a session of kSignInSessionMs. A wrong password, an unknown
  // e-mail and a customer without a password are the same 401 `auth.invalid_credentials`, and
  // cost the same time (an unknown e-mail is checked against a dummy hash).
  Result<CustomerSession> sign_in(const std::string& email, const std::string& password);
  // Revokes the session of `token` (deletes it). Unknown tokens are the 401 of from_token.
  Status sign_out(const std::string& token);
  Result<Customer> update(const CustomerId& id, const CustomerPatch& patch);
  // Sets or clears (nullopt) the customer's group; an unknown group is a 422 `customer_group.not_found`.
  Result<Customer> set_group(const CustomerId& id, const std::optional<CustomerGroupId>& group);

  // ---- Sessions ----
  // Opens a session lasting `ttl_ms` (1 minute to 90 days); `created_by` names who opened it (a plugin).
  Result<CustomerSession> create_session(const CustomerId& id, std::int64_t ttl_ms, const std::string& created_by);
  // The customer a token signs in; unknown, expired or revoked is a 401 `auth.customer_token_invalid`.
  Result<Customer> from_token(const std::string& token);

  // ---- Addresses (each customer sees only their own: another's id is a 404) ----
  Result<std::vector<SavedAddress>> addresses(const CustomerId& customer);
  Result<SavedAddress> address(const CustomerId& customer, const CustomerAddressId& id);
  // The first address becomes the default; `make_default` moves the default to this one.
  // More than kMaxAddresses is a 422 `customer.too_many_addresses`.
  Result<SavedAddress> add_address(const CustomerId& customer, const Address& address, bool make_default);
  Result<SavedAddress> update_address(const CustomerId& customer, const CustomerAddressId& id,
                                      const std::optional<Address>& address, bool make_default);
  // Removing the default makes the oldest remaining address the default.
  Status remove_address(const CustomerId& customer, const CustomerAddressId& id);

  // ---- Identities ----
  static Status validate_identity(const std::string& type, const std::string& value);
  // Links (type, value) to the customer; linking it again to the same customer changes nothing.
  // One that belongs to another customer (as an identity, or as their e-mail) is a 409
  // `customer.identity_taken`.
  Result<Identity> link_identity(const CustomerId& customer, const std::string& type, const std::string& value,
                                 const std::string& linked_by);
  // The customer of (type, value): a linked identity, or for type "email" the account's e-mail
  // and for "phone" its phone when exactly one customer has it. None is a 404 `customer.not_found`.
  Result<Customer> find_by_identity(const std::string& type, const std::string& value);
  Result<std::vector<Identity>> identities(const CustomerId& customer);

  // ---- Groups ----
  Result<Group> create_group(const std::string& code, const std::string& name);
  Result<std::vector<Group>> groups();
  Result<Group> group(const CustomerGroupId& id);
  Result<Group> update_group(const CustomerGroupId& id, const std::optional<std::string>& name);
  // Members go back to no group.
  Status delete_group(const CustomerGroupId& id);

  // ---- Orders and carts ----
  // Ids of the customer's orders (placed from their carts, on any channel), newest first:
  // at most `limit` after `cursor` (an order id), and the next cursor or "".
  struct OrderIdPage {
    std::vector<OrderId> ids;
    std::string next_cursor;
  };
  Result<OrderIdPage> order_ids(const CustomerId& customer, int limit, const std::string& cursor);

  // ---- Data rights ----
  // Everything held about the customer as one JSON document: account, group, addresses,
  // identities, sessions (times only), carts and orders (ids, channels, totals, addresses).
  Result<nlohmann::json> export_data(const CustomerId& id);
  // Anonymises the person in one transaction: name, e-mail (becomes erased+<id>@erased.invalid),
  // phone, password, sessions, addresses and identities; the e-mail, address and metadata of their
  // carts and orders (by account or e-mail). Orders' lines, money, stock history and source are kept.
  Result<Customer> erase(const CustomerId& id);

 private:
  static Result<Customer> load(soci::session& sql, const std::string& where, const std::string& value);

  storage::Database& db_;
  const Clock& clock_;
};

}  // namespace quanqu::customers
