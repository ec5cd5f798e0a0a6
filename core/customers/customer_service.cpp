// Customer records and their hashed session tokens.
#include "customers/customer_service.h"

#include "common/random.h"
#include "common/validation.h"

#include <algorithm>
#include <cctype>

namespace quanqu::customers {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

Result<Customer> CustomerService::load(soci::session& sql, const std::string& where, const std::string& value) {
  Customer c;
  sql << "SELECT id, email, name, phone, created_at, updated_at FROM customers WHERE " + where,
      soci::into(c.id.value), soci::into(c.email), soci::into(c.name), soci::into(c.phone), soci::into(c.created_at),
      soci::into(c.updated_at), soci::use(value);
  if (!sql.got_data()) return Error::not_found("customer.not_found", "no such customer");
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
    sql << "INSERT INTO customer_sessions (token_hash, customer_id, created_by, created_at, expires_at) "
           "VALUES (:h, :c, :b, :t, :e)",
        soci::use(hash), soci::use(id.value), soci::use(created_by), soci::use(now), soci::use(expires);
    return s;
  });
}

Result<Customer> CustomerService::from_token(const std::string& token) {
  auto invalid = Error::unauthenticated("auth.customer_token_invalid", "the customer token is unknown or expired");
  if (token.size() < 10 || token.size() > 200) return invalid;
  std::string hash = sha256_hex(token);
  return db_.read<Customer>([&](soci::session& sql) -> Result<Customer> {
    std::string customer;
    long long expires = 0;
    sql << "SELECT customer_id, expires_at FROM customer_sessions WHERE token_hash = :h", soci::into(customer),
        soci::into(expires), soci::use(hash);
    if (!sql.got_data() || expires <= clock_.now_ms()) return invalid;
    return load(sql, "id = :v", customer);
  });
}

}  // namespace quanqu::customers
