// Customer accounts, hashed passwords and session tokens, addresses, identities, groups, export and erasure.
#include "customers/customer_service.h"

#include "common/random.h"
#include "common/validation.h"
#include "storage/dynamic_query.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <string_view>
#include <unordered_set>

namespace quanqu::customers {

std::string_view common_passwords_text();  // generated from data/common-passwords.txt

namespace {

using nlohmann::json;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

constexpr const char* kCustomerColumns =
    "SELECT id, email, name, phone, group_id, password_hash, created_at, updated_at FROM customers WHERE ";

Error invalid_credentials() {
  return Error::unauthenticated("auth.invalid_credentials", "the e-mail or password is not right");
}

Error token_invalid() {
  return Error::unauthenticated("auth.customer_token_invalid", "the customer token is unknown, expired or revoked");
}

// libsodium must be initialised once before use; sodium_init is itself thread-safe and idempotent.
Status sodium_ready() {
  static const int status = sodium_init();
  if (status < 0) return Error::internal("the password library could not start", "sodium_init failed");
  return ok_status();
}

// Argon2id with libsodium's interactive limits (2 passes, 64 MiB): what it recommends for online
// sign-in. The parameters are stored in the hash string, so raising them later keeps old hashes valid.
Result<std::string> hash_password(const std::string& password) {
  QQ_TRY(sodium_ready());
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Error::internal("the password could not be hashed", "crypto_pwhash_str_alg: out of memory");
  return std::string(out);
}

bool verify_password(const std::string& hash, const std::string& password) {
  if (!sodium_ready().ok() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

// A hash of a random password, verified against when the e-mail is unknown, so that an unknown
// e-mail costs the same time as a wrong password.
const std::string& dummy_hash() {
  static const std::string hash = [] {
    auto h = hash_password(random_hex(16));
    return h ? *h : std::string();
  }();
  return hash;
}

bool valid_identity_type(std::string_view t) {
  if (t.empty() || t.size() > 64 || !(t[0] >= 'a' && t[0] <= 'z')) return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' || c == ':';
  });
}

// Identity values are compared as stored; e-mails are stored lower case like the account's.
std::string normalised_identity(const std::string& type, const std::string& value) {
  return type == "email" ? lower(value) : value;
}

Error customer_not_found() { return Error::not_found("customer.not_found", "no such customer"); }

Error address_not_found(const CustomerAddressId& id) {
  return Error::not_found("customer_address.not_found", "no address '" + id.value + "'");
}

Error group_not_found(const CustomerGroupId& id) {
  return Error::not_found("customer_group.not_found", "no customer group '" + id.value + "'");
}

SavedAddress read_address(const std::string& id, const std::string& doc, int is_default, long long created,
                          long long updated) {
  return {CustomerAddressId(id), Address::from_json(json::parse(doc)), is_default != 0, created, updated};
}

Result<SavedAddress> load_address(soci::session& sql, const CustomerId& customer, const CustomerAddressId& id) {
  std::string doc;
  int is_default = 0;
  long long created = 0, updated = 0;
  sql << "SELECT address, is_default, created_at, updated_at FROM customer_addresses WHERE id = :id AND "
         "customer_id = :c",
      soci::into(doc), soci::into(is_default), soci::into(created), soci::into(updated), soci::use(id.value),
      soci::use(customer.value);
  if (!sql.got_data()) return address_not_found(id);
  return read_address(id.value, doc, is_default, created, updated);
}

Result<Group> load_group(soci::session& sql, const CustomerGroupId& id) {
  Group g;
  sql << "SELECT id, code, name, created_at, updated_at FROM customer_groups WHERE id = :id", soci::into(g.id.value),
      soci::into(g.code), soci::into(g.name), soci::into(g.created_at), soci::into(g.updated_at), soci::use(id.value);
  if (!sql.got_data()) return group_not_found(id);
  return g;
}

// The oldest address becomes the default when the customer has none.
void ensure_default(soci::session& sql, const CustomerId& customer) {
  long long defaults = 0;
  sql << "SELECT COUNT(*) FROM customer_addresses WHERE customer_id = :c AND is_default = 1", soci::into(defaults),
      soci::use(customer.value);
  if (defaults > 0) return;
  std::string first;
  soci::indicator ind = soci::i_null;
  sql << "SELECT MIN(id) FROM customer_addresses WHERE customer_id = :c", soci::into(first, ind),
      soci::use(customer.value);
  if (ind == soci::i_ok) sql << "UPDATE customer_addresses SET is_default = 1 WHERE id = :id", soci::use(first);
}

}  // namespace

std::string lower_email(std::string email) { return lower(std::move(email)); }

// ---- Accounts ----

Result<Customer> CustomerService::load(soci::session& sql, const std::string& where, const std::string& value) {
  Customer c;
  std::string group, hash;
  soci::indicator group_ind = soci::i_null, hash_ind = soci::i_null;
  sql << std::string(kCustomerColumns) + where, soci::into(c.id.value), soci::into(c.email), soci::into(c.name),
      soci::into(c.phone), soci::into(group, group_ind), soci::into(hash, hash_ind), soci::into(c.created_at),
      soci::into(c.updated_at), soci::use(value);
  if (!sql.got_data()) return customer_not_found();
  if (group_ind == soci::i_ok) c.group_id = CustomerGroupId(group);
  c.has_password = hash_ind == soci::i_ok && !hash.empty();
  return c;
}

Result<Customer> CustomerService::get(const CustomerId& id) {
  return db_.read<Customer>([&](soci::session& sql) { return load(sql, "id = :v", id.value); });
}

Result<Customer> CustomerService::find_by_email(const std::string& email) {
  return db_.read<Customer>([&](soci::session& sql) { return load(sql, "email = :v", lower(email)); });
}

Result<Customer> CustomerService::upsert(const CustomerDetails& in) {
  Validator v;
  v.email("email", in.email);
  if (in.name) v.text("name", *in.name, 200, false);
  if (in.phone) v.text("phone", *in.phone, 40, false);
  QQ_TRY(v.status());
  std::string email = lower(in.email);
  return db_.write<Customer>([&](soci::session& sql) -> Result<Customer> {
    long long now = clock_.now_ms();
    auto existing = load(sql, "email = :v", email);
    if (existing) {
      std::string name = in.name.value_or(existing->name), phone = in.phone.value_or(existing->phone);
      sql << "UPDATE customers SET name = :n, phone = :p, updated_at = :u WHERE id = :id", soci::use(name),
          soci::use(phone), soci::use(now), soci::use(existing->id.value);
      return load(sql, "id = :v", existing->id.value);
    }
    std::string name = in.name.value_or(""), phone = in.phone.value_or("");
    std::string id = new_id("cus");
    // A concurrent insert of the same e-mail fails on the unique index and is retried: it then updates.
    sql << "INSERT INTO customers (id, email, name, phone, created_at, updated_at) VALUES (:id, :e, :n, :p, :c, :u)",
        soci::use(id), soci::use(email), soci::use(name), soci::use(phone), soci::use(now), soci::use(now);
    return load(sql, "id = :v", id);
  });
}

bool CustomerService::is_common_password(std::string_view password) {
  static const std::unordered_set<std::string> common = [] {
    std::unordered_set<std::string> out;
    std::string_view text = common_passwords_text();
    while (!text.empty()) {
      auto end = text.find('\n');
      std::string_view line = text.substr(0, end);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) out.insert(lower(std::string(line)));
      if (end == std::string_view::npos) break;
      text.remove_prefix(end + 1);
    }
    return out;
  }();
  return common.count(lower(std::string(password))) > 0;
}

Status CustomerService::validate(const SignUp& in) {
  Validator v;
  v.email("email", in.email);
  v.text("name", in.name, 200, false);
  v.text("phone", in.phone, 40, false);
  if (in.password.size() < kMinPasswordBytes || in.password.size() > kMaxPasswordBytes)
    v.fail("password", "must be " + std::to_string(kMinPasswordBytes) + " to " + std::to_string(kMaxPasswordBytes) +
                           " bytes long");
  else if (!is_valid_utf8(in.password) || in.password.find('\0') != std::string::npos)
    v.fail("password", "must be valid UTF-8 text");
  else if (is_common_password(in.password))
    v.fail("password", "is one of the most common passwords; choose another");
  return v.status();
}

Status CustomerService::validate(const CustomerPatch& in) {
  Validator v;
  if (in.name) v.text("name", *in.name, 200, false);
  if (in.phone) v.text("phone", *in.phone, 40, false);
  return v.status();
}

Result<Customer> CustomerService::sign_up(const SignUp& in) {
  QQ_TRY(validate(in));
  // Hashing takes about a tenth of a second and 64 MiB: done before the transaction, not inside it.
  QQ_ASSIGN_OR_RETURN(std::string hash, hash_password(in.password));
  std::string email = lower(in.email);
  return db_.write<Customer>([&](soci::session& sql) -> Result<Customer> {
    if (load(sql, "email = :v", email).ok())
      return Error::conflict("customer.email_taken", "an account with this e-mail exists; sign in instead");
    std::string owner;
    sql << "SELECT customer_id FROM customer_identities WHERE type = 'email' AND value = :v", soci::into(owner),
        soci::use(email);
    if (sql.got_data())
      return Error::conflict("customer.email_taken", "an account with this e-mail exists; sign in instead");
    long long now = clock_.now_ms();
    std::string id = new_id("cus");
    sql << "INSERT INTO customers (id, email, name, phone, password_hash, created_at, updated_at) "
           "VALUES (:id, :e, :n, :p, :h, :c, :u)",
        soci::use(id), soci::use(email), soci::use(in.name), soci::use(in.phone), soci::use(hash), soci::use(now),
        soci::use(now);
    return load(sql, "id = :v", id);
  });
}

Result<CustomerSession> CustomerService::sign_in(const std::string& email, const std::string& password) {
  if (email.size() > 254 || password.empty() || password.size() > kMaxPasswordBytes) return invalid_credentials();
  struct Account {
    CustomerId id;
    std::string hash;
  };
  std::string key = lower(email);
  auto account = db_.read<std::optional<Account>>([&](soci::session& sql) -> Result<std::optional<Account>> {
    Account a;
    soci::indicator ind = soci::i_null;
    sql << "SELECT id, password_hash FROM customers WHERE email = :e", soci::into(a.id.value), soci::into(a.hash, ind),
        soci::use(key);
    if (!sql.got_data() || ind != soci::i_ok) return std::optional<Account>();
    return std::optional<Account>(a);
  });
  if (!account) return std::move(account).error();
  const std::optional<Account>& found = *account;
  // Always one verification, so that the reply time says nothing about the e-mail.
  bool good = verify_password(found ? found->hash : dummy_hash(), password);
  if (!found || !good) return invalid_credentials();
  return create_session(found->id, kSignInSessionMs, "sign-in");
}

Status CustomerService::sign_out(const std::string& token) {
  if (token.size() < 10 || token.size() > 200) return token_invalid();
  std::string hash = sha256_hex(token);
  return db_.write<Ok>([&](soci::session& sql) -> Status {
    std::string gone;
    sql << "DELETE FROM customer_sessions WHERE token_hash = :h RETURNING token_hash", soci::into(gone),
        soci::use(hash);
    if (!sql.got_data()) return token_invalid();
    return ok_status();
  });
}

Result<Customer> CustomerService::update(const CustomerId& id, const CustomerPatch& patch) {
  QQ_TRY(validate(patch));
  return db_.write<Customer>([&](soci::session& sql) -> Result<Customer> {
    QQ_ASSIGN_OR_RETURN(Customer c, load(sql, "id = :v", id.value));
    std::string name = patch.name.value_or(c.name), phone = patch.phone.value_or(c.phone);
    long long now = clock_.now_ms();
    sql << "UPDATE customers SET name = :n, phone = :p, updated_at = :u WHERE id = :id", soci::use(name),
        soci::use(phone), soci::use(now), soci::use(id.value);
    return load(sql, "id = :v", id.value);
  });
}

Result<Customer> CustomerService::set_group(const CustomerId& id, const std::optional<CustomerGroupId>& group) {
  return db_.write<Customer>([&](soci::session& sql) -> Result<Customer> {
    QQ_TRY(load(sql, "id = :v", id.value));
    long long now = clock_.now_ms();
    if (group) {
      auto found = load_group(sql, *group);
      if (!found) {
        if (found.error().kind != ErrorKind::not_found) return std::move(found).error();
        return Error::unprocessable("customer_group.not_found", "no customer group '" + group->value + "'");
      }
      sql << "UPDATE customers SET group_id = :g, updated_at = :u WHERE id = :id", soci::use(group->value),
          soci::use(now), soci::use(id.value);
    } else {
      sql << "UPDATE customers SET group_id = NULL, updated_at = :u WHERE id = :id", soci::use(now),
          soci::use(id.value);
    }
    return load(sql, "id = :v", id.value);
  });
}

// ---- Sessions ----

Result<CustomerSession> CustomerService::create_session(const CustomerId& id, std::int64_t ttl_ms,
                                                        const std::string& created_by) {
  Validator v;
  v.range("ttl_ms", ttl_ms, 60'000, kMaxSessionMs);
  QQ_TRY(v.status());
  return db_.write<CustomerSession>([&](soci::session& sql) -> Result<CustomerSession> {
    QQ_TRY(load(sql, "id = :v", id.value));
    CustomerSession s{"qq_ct_" + random_hex(24), id, clock_.now_ms() + ttl_ms};
    std::string hash = sha256_hex(s.token);
    long long now = clock_.now_ms(), expires = s.expires_at;
    // Expired sessions of this customer go as new ones come, so their rows stay bounded.
    sql << "DELETE FROM customer_sessions WHERE customer_id = :c AND expires_at <= :t", soci::use(id.value),
        soci::use(now);
    sql << "INSERT INTO customer_sessions (token_hash, customer_id, created_by, created_at, expires_at) "
           "VALUES (:h, :c, :b, :t, :e)",
        soci::use(hash), soci::use(id.value), soci::use(created_by), soci::use(now), soci::use(expires);
    return s;
  });
}

Result<Customer> CustomerService::from_token(const std::string& token) {
  if (token.size() < 10 || token.size() > 200) return token_invalid();
  std::string hash = sha256_hex(token);
  return db_.read<Customer>([&](soci::session& sql) -> Result<Customer> {
    std::string customer;
    long long expires = 0;
    sql << "SELECT customer_id, expires_at FROM customer_sessions WHERE token_hash = :h", soci::into(customer),
        soci::into(expires), soci::use(hash);
    if (!sql.got_data() || expires <= clock_.now_ms()) return token_invalid();
    auto c = load(sql, "id = :v", customer);
    if (!c && c.error().kind == ErrorKind::not_found) return token_invalid();
    return c;
  });
}

// ---- Addresses ----

Result<std::vector<SavedAddress>> CustomerService::addresses(const CustomerId& customer) {
  return db_.read<std::vector<SavedAddress>>([&](soci::session& sql) -> Result<std::vector<SavedAddress>> {
    std::vector<SavedAddress> out;
    std::string id, doc;
    int is_default = 0;
    long long created = 0, updated = 0;
    soci::statement st = (sql.prepare << "SELECT id, address, is_default, created_at, updated_at FROM "
                                         "customer_addresses WHERE customer_id = :c ORDER BY created_at, id",
                          soci::into(id), soci::into(doc), soci::into(is_default), soci::into(created),
                          soci::into(updated), soci::use(customer.value));
    st.execute();
    while (st.fetch()) out.push_back(read_address(id, doc, is_default, created, updated));
    return out;
  });
}

Result<SavedAddress> CustomerService::address(const CustomerId& customer, const CustomerAddressId& id) {
  return db_.read<SavedAddress>([&](soci::session& sql) { return load_address(sql, customer, id); });
}

Result<SavedAddress> CustomerService::add_address(const CustomerId& customer, const Address& address,
                                                  bool make_default) {
  Validator v;
  address.validate(v, "address");
  QQ_TRY(v.status());
  return db_.write<SavedAddress>([&](soci::session& sql) -> Result<SavedAddress> {
    QQ_TRY(load(sql, "id = :v", customer.value));
    long long count = 0;
    sql << "SELECT COUNT(*) FROM customer_addresses WHERE customer_id = :c", soci::into(count),
        soci::use(customer.value);
    if (count >= static_cast<long long>(kMaxAddresses))
      return Error::unprocessable("customer.too_many_addresses",
                                  "a customer keeps at most " + std::to_string(kMaxAddresses) + " addresses");
    if (make_default)
      sql << "UPDATE customer_addresses SET is_default = 0 WHERE customer_id = :c", soci::use(customer.value);
    CustomerAddressId id(new_id("addr"));
    std::string doc = address.to_json().dump();
    int is_default = make_default || count == 0 ? 1 : 0;
    long long now = clock_.now_ms();
    sql << "INSERT INTO customer_addresses (id, customer_id, address, is_default, created_at, updated_at) "
           "VALUES (:id, :c, :a, :d, :ca, :ua)",
        soci::use(id.value), soci::use(customer.value), soci::use(doc), soci::use(is_default), soci::use(now),
        soci::use(now);
    return load_address(sql, customer, id);
  });
}

Result<SavedAddress> CustomerService::update_address(const CustomerId& customer, const CustomerAddressId& id,
                                                     const std::optional<Address>& address, bool make_default) {
  if (address) {
    Validator v;
    address->validate(v, "address");
    QQ_TRY(v.status());
  }
  return db_.write<SavedAddress>([&](soci::session& sql) -> Result<SavedAddress> {
    QQ_ASSIGN_OR_RETURN(SavedAddress current, load_address(sql, customer, id));
    long long now = clock_.now_ms();
    if (make_default) {
      sql << "UPDATE customer_addresses SET is_default = 0 WHERE customer_id = :c", soci::use(customer.value);
      sql << "UPDATE customer_addresses SET is_default = 1 WHERE id = :id", soci::use(id.value);
    }
    std::string doc = (address ? *address : current.address).to_json().dump();
    sql << "UPDATE customer_addresses SET address = :a, updated_at = :u WHERE id = :id", soci::use(doc),
        soci::use(now), soci::use(id.value);
    return load_address(sql, customer, id);
  });
}

Status CustomerService::remove_address(const CustomerId& customer, const CustomerAddressId& id) {
  return db_.write<Ok>([&](soci::session& sql) -> Status {
    QQ_TRY(load_address(sql, customer, id));
    sql << "DELETE FROM customer_addresses WHERE id = :id", soci::use(id.value);
    ensure_default(sql, customer);
    return ok_status();
  });
}

// ---- Identities ----

Status CustomerService::validate_identity(const std::string& type, const std::string& value) {
  Validator v;
  if (!valid_identity_type(type))
    v.fail("type", "must be 1 to 64 characters of a-z, 0-9, '_', '.', '-' or ':', starting with a letter");
  if (type == "email")
    v.email("value", value);
  else
    v.text("value", value, 200);
  return v.status();
}

Result<Identity> CustomerService::link_identity(const CustomerId& customer, const std::string& type,
                                                const std::string& value, const std::string& linked_by) {
  QQ_TRY(validate_identity(type, value));
  std::string v = normalised_identity(type, value);
  return db_.write<Identity>([&](soci::session& sql) -> Result<Identity> {
    QQ_ASSIGN_OR_RETURN(Customer c, load(sql, "id = :v", customer.value));
    auto taken = Error::conflict("customer.identity_taken", "this " + type + " identity belongs to another customer",
                                 json{{"type", type}});
    if (type == "email" && v != c.email && load(sql, "email = :v", v).ok()) return taken;
    Identity out{type, v, customer, linked_by, 0};
    std::string owner, by;
    long long created = 0;
    sql << "SELECT customer_id, linked_by, created_at FROM customer_identities WHERE type = :t AND value = :v",
        soci::into(owner), soci::into(by), soci::into(created), soci::use(type), soci::use(v);
    if (sql.got_data()) {
      if (owner != customer.value) return taken;
      out.linked_by = by;
      out.created_at = created;
      return out;
    }
    long long count = 0;
    sql << "SELECT COUNT(*) FROM customer_identities WHERE customer_id = :c", soci::into(count),
        soci::use(customer.value);
    if (count >= static_cast<long long>(kMaxIdentities))
      return Error::unprocessable("customer.too_many_identities",
                                  "a customer has at most " + std::to_string(kMaxIdentities) + " identities");
    out.created_at = clock_.now_ms();
    // Two concurrent links of one identity: the primary key lets one in; the other is retried
    // by Database::write and then finds it.
    sql << "INSERT INTO customer_identities (type, value, customer_id, linked_by, created_at) "
           "VALUES (:t, :v, :c, :b, :ca)",
        soci::use(type), soci::use(v), soci::use(customer.value), soci::use(linked_by), soci::use(out.created_at);
    return out;
  });
}

Result<Customer> CustomerService::find_by_identity(const std::string& type, const std::string& value) {
  QQ_TRY(validate_identity(type, value));
  std::string v = normalised_identity(type, value);
  return db_.read<Customer>([&](soci::session& sql) -> Result<Customer> {
    std::string owner;
    sql << "SELECT customer_id FROM customer_identities WHERE type = :t AND value = :v", soci::into(owner),
        soci::use(type), soci::use(v);
    if (sql.got_data()) return load(sql, "id = :v", owner);
    if (type == "email") return load(sql, "email = :v", v);
    if (type == "phone") {
      long long count = 0;
      sql << "SELECT COUNT(*) FROM customers WHERE phone = :p", soci::into(count), soci::use(v);
      if (count == 1) return load(sql, "phone = :v", v);
    }
    return customer_not_found();
  });
}

Result<std::vector<Identity>> CustomerService::identities(const CustomerId& customer) {
  return db_.read<std::vector<Identity>>([&](soci::session& sql) -> Result<std::vector<Identity>> {
    std::vector<Identity> out;
    Identity i;
    i.customer_id = customer;
    soci::statement st =
        (sql.prepare << "SELECT type, value, linked_by, created_at FROM customer_identities WHERE customer_id = :c "
                        "ORDER BY created_at, type, value",
         soci::into(i.type), soci::into(i.value), soci::into(i.linked_by), soci::into(i.created_at),
         soci::use(customer.value));
    st.execute();
    while (st.fetch()) out.push_back(i);
    return out;
  });
}

// ---- Groups ----

Result<Group> CustomerService::create_group(const std::string& code, const std::string& name) {
  Validator v;
  v.handle("code", code, 64);
  v.text("name", name, 200);
  QQ_TRY(v.status());
  return db_.write<Group>([&](soci::session& sql) -> Result<Group> {
    long long count = 0;
    sql << "SELECT COUNT(*) FROM customer_groups", soci::into(count);
    if (count >= static_cast<long long>(kMaxGroups))
      return Error::unprocessable("customer_group.too_many", "at most " + std::to_string(kMaxGroups) + " groups");
    std::string existing;
    sql << "SELECT id FROM customer_groups WHERE code = :c", soci::into(existing), soci::use(code);
    if (sql.got_data())
      return Error::conflict("customer_group.code_taken", "a group with code '" + code + "' exists");
    CustomerGroupId id(new_id("cgrp"));
    long long now = clock_.now_ms();
    sql << "INSERT INTO customer_groups (id, code, name, created_at, updated_at) VALUES (:id, :c, :n, :ca, :ua)",
        soci::use(id.value), soci::use(code), soci::use(name), soci::use(now), soci::use(now);
    return load_group(sql, id);
  });
}

Result<std::vector<Group>> CustomerService::groups() {
  return db_.read<std::vector<Group>>([&](soci::session& sql) -> Result<std::vector<Group>> {
    std::vector<Group> out;
    Group g;
    soci::statement st = (sql.prepare << "SELECT id, code, name, created_at, updated_at FROM customer_groups "
                                         "ORDER BY code",
                          soci::into(g.id.value), soci::into(g.code), soci::into(g.name), soci::into(g.created_at),
                          soci::into(g.updated_at));
    st.execute();
    while (st.fetch()) out.push_back(g);
    return out;
  });
}

Result<Group> CustomerService::group(const CustomerGroupId& id) {
  return db_.read<Group>([&](soci::session& sql) { return load_group(sql, id); });
}

Result<Group> CustomerService::update_group(const CustomerGroupId& id, const std::optional<std::string>& name) {
  if (name) {
    Validator v;
    v.text("name", *name, 200);
    QQ_TRY(v.status());
  }
  return db_.write<Group>([&](soci::session& sql) -> Result<Group> {
    QQ_ASSIGN_OR_RETURN(Group g, load_group(sql, id));
    std::string n = name.value_or(g.name);
    long long now = clock_.now_ms();
    sql << "UPDATE customer_groups SET name = :n, updated_at = :u WHERE id = :id", soci::use(n), soci::use(now),
        soci::use(id.value);
    return load_group(sql, id);
  });
}

Status CustomerService::delete_group(const CustomerGroupId& id) {
  return db_.write<Ok>([&](soci::session& sql) -> Status {
    QQ_TRY(load_group(sql, id));
    long long now = clock_.now_ms();
    sql << "UPDATE customers SET group_id = NULL, updated_at = :u WHERE group_id = :g", soci::use(now),
        soci::use(id.value);
    sql << "DELETE FROM customer_groups WHERE id = :id", soci::use(id.value);
    return ok_status();
  });
}

// ---- Orders ----

Result<CustomerService::OrderIdPage> CustomerService::order_ids(const CustomerId& customer, int limit,
                                                                const std::string& cursor) {
  Validator v;
  v.range("limit", limit, 1, 100);
  if (!cursor.empty() && !looks_like_id(cursor, "order")) v.fail("cursor", "is not a cursor from this list");
  QQ_TRY(v.status("invalid_query"));
  return db_.read<OrderIdPage>([&](soci::session& sql) -> Result<OrderIdPage> {
    OrderIdPage page;
    std::string id;
    // Newest first: order ids grow with time, and the cursor is the last id seen.
    long long rows = static_cast<long long>(limit) + 1;
    storage::DynamicQuery q(sql);
    q.text("SELECT o.id FROM orders o JOIN carts c ON c.id = o.cart_id WHERE c.customer_id = ").param(customer.value);
    if (!cursor.empty()) q.text(" AND o.id < ").param(cursor);
    q.text(" ORDER BY o.id DESC LIMIT ").param(rows);
    q.into(id);
    for (bool row = q.execute(); row; row = q.fetch()) page.ids.emplace_back(id);
    if (page.ids.size() > static_cast<std::size_t>(limit)) {
      page.ids.pop_back();
      page.next_cursor = page.ids.back().value;
    }
    return page;
  });
}

// ---- Data rights ----

Result<json> CustomerService::export_data(const CustomerId& id) {
  QQ_ASSIGN_OR_RETURN(Customer c, get(id));
  QQ_ASSIGN_OR_RETURN(auto saved, addresses(id));
  QQ_ASSIGN_OR_RETURN(auto linked, identities(id));
  return db_.read<json>([&](soci::session& sql) -> Result<json> {
    json out{{"customer",
              {{"id", c.id.value},
               {"email", c.email},
               {"name", c.name},
               {"phone", c.phone},
               {"group_id", c.group_id ? json(c.group_id->value) : json(nullptr)},
               {"has_password", c.has_password},
               {"created_at", format_rfc3339(c.created_at)},
               {"updated_at", format_rfc3339(c.updated_at)}}}};
    out["addresses"] = json::array();
    for (const auto& a : saved)
      out["addresses"].push_back({{"id", a.id.value},
                                  {"address", a.address.to_json()},
                                  {"is_default", a.is_default},
                                  {"created_at", format_rfc3339(a.created_at)},
                                  {"updated_at", format_rfc3339(a.updated_at)}});
    out["identities"] = json::array();
    for (const auto& i : linked)
      out["identities"].push_back(
          {{"type", i.type}, {"value", i.value}, {"linked_by", i.linked_by}, {"created_at", format_rfc3339(i.created_at)}});
    out["sessions"] = json::array();
    {
      std::string by;
      long long created = 0, expires = 0;
      soci::statement st = (sql.prepare << "SELECT created_by, created_at, expires_at FROM customer_sessions "
                                           "WHERE customer_id = :c ORDER BY created_at LIMIT 1000",
                            soci::into(by), soci::into(created), soci::into(expires), soci::use(id.value));
      st.execute();
      while (st.fetch())
        out["sessions"].push_back({{"created_by", by}, {"created_at", format_rfc3339(created)}, {"expires_at", format_rfc3339(expires)}});
    }
    out["carts"] = json::array();
    {
      std::string cart, channel, status, email, address;
      soci::indicator email_ind = soci::i_null, address_ind = soci::i_null;
      long long created = 0;
      soci::statement st =
          (sql.prepare << "SELECT id, channel_id, status, email, shipping_address, created_at FROM carts "
                          "WHERE customer_id = :c ORDER BY id LIMIT 10000",
           soci::into(cart), soci::into(channel), soci::into(status), soci::into(email, email_ind),
           soci::into(address, address_ind), soci::into(created), soci::use(id.value));
      st.execute();
      while (st.fetch())
        out["carts"].push_back({{"id", cart},
                                {"channel_id", channel},
                                {"status", status},
                                {"email", email_ind == soci::i_ok ? json(email) : json(nullptr)},
                                {"shipping_address", address_ind == soci::i_ok ? json::parse(address) : json(nullptr)},
                                {"created_at", format_rfc3339(created)}});
    }
    out["orders"] = json::array();
    {
      std::string order, channel, status, currency, email, address;
      long long number = 0, total = 0, created = 0;
      soci::statement st =
          (sql.prepare << "SELECT id, number, channel_id, status, currency, total, email, shipping_address, "
                          "created_at FROM orders WHERE email = :e OR cart_id IN "
                          "(SELECT id FROM carts WHERE customer_id = :c) ORDER BY id LIMIT 10000",
           soci::into(order), soci::into(number), soci::into(channel), soci::into(status), soci::into(currency),
           soci::into(total), soci::into(email), soci::into(address), soci::into(created), soci::use(c.email),
           soci::use(id.value));
      st.execute();
      while (st.fetch())
        out["orders"].push_back({{"id", order},
                                 {"number", number},
                                 {"channel_id", channel},
                                 {"status", status},
                                 {"total", {{"amount", total}, {"currency", currency}}},
                                 {"email", email},
                                 {"shipping_address", json::parse(address)},
                                 {"created_at", format_rfc3339(created)}});
    }
    return out;
  });
}

Result<Customer> CustomerService::erase(const CustomerId& id) {
  return db_.write<Customer>([&](soci::session& sql) -> Result<Customer> {
    QQ_ASSIGN_OR_RETURN(Customer c, load(sql, "id = :v", id.value));
    long long now = clock_.now_ms();
    std::string erased_email = "erased+" + id.value + "@erased.invalid";
    // Orders keep their lines, money, country (tax), stock history and source; the person goes, and
    // so does free-form metadata, which may name them.
    {
      std::vector<std::string> ids;
      std::vector<std::string> countries;
      std::string order, address;
      soci::statement st = (sql.prepare << "SELECT id, shipping_address FROM orders WHERE email = :e OR cart_id IN "
                                           "(SELECT id FROM carts WHERE customer_id = :c)",
                            soci::into(order), soci::into(address), soci::use(c.email), soci::use(id.value));
      st.execute();
      while (st.fetch()) {
        ids.push_back(order);
        countries.push_back(Address::from_json(json::parse(address)).country);
      }
      for (std::size_t i = 0; i < ids.size(); ++i) {
        Address anonymous;
        anonymous.country = countries[i];
        std::string doc = anonymous.to_json().dump();
        sql << "UPDATE orders SET email = :e, shipping_address = :a, metadata = '{}', updated_at = :u WHERE id = :id",
            soci::use(erased_email), soci::use(doc), soci::use(now), soci::use(ids[i]);
      }
    }
    sql << "UPDATE carts SET email = NULL, shipping_address = NULL, metadata = '{}', updated_at = :u "
           "WHERE customer_id = :c OR email = :e",
        soci::use(now), soci::use(id.value), soci::use(c.email);
    sql << "DELETE FROM customer_addresses WHERE customer_id = :c", soci::use(id.value);
    sql << "DELETE FROM customer_identities WHERE customer_id = :c", soci::use(id.value);
    sql << "DELETE FROM customer_sessions WHERE customer_id = :c", soci::use(id.value);
    sql << "UPDATE customers SET email = :e, name = '', phone = '', password_hash = NULL, erased_at = :t, "
           "updated_at = :u WHERE id = :id",
        soci::use(erased_email), soci::use(now), soci::use(now), soci::use(id.value);
    return load(sql, "id = :v", id.value);
  });
}

}  // namespace quanqu::customers
