// Result<T> and Error: expected failures as values, with a stable machine code and a kind.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace quanqu {

// What the caller should do next; the API maps each kind to exactly one HTTP status.
enum class ErrorKind {
  invalid_argument,     // fix the request (400)
  unauthenticated,      // present valid credentials (401)
  permission_denied,    // credentials are valid but not for this (403)
  not_found,            // the thing does not exist, or not for this caller (404)
  conflict,             // the state changed or a key was reused; re-read and retry (409)
  failed_precondition,  // well-formed but cannot be done in this state (422)
  unavailable,          // transient; retry the call later (503)
  internal,             // a bug or a broken dependency (500)
};

// One offending input field: a JSON-pointer-like path and what is wrong with it.
struct FieldError {
  std::string field;
  std::string message;
};

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string code;     // stable, dotted: "inventory.insufficient_stock"
  std::string message;  // a sentence for humans
  std::vector<FieldError> fields{};
  nlohmann::json details{};  // extra machine-readable context (offending lines, ...)
  std::string cause{};       // internal only, for the server log; never sent to a client
  // Members added at the top level of the problem (RFC 9457 extension members), e.g. the
  // `current_status` and `allowed_moves` of `order.invalid_transition`.
  nlohmann::json extensions{};

  static Error invalid(std::string code, std::string message, std::vector<FieldError> fields = {}) {
    return {ErrorKind::invalid_argument, std::move(code), std::move(message), std::move(fields), {}, {}, {}};
  }
  static Error not_found(std::string code, std::string message) {
    return {ErrorKind::not_found, std::move(code), std::move(message), {}, {}, {}, {}};
  }
  static Error conflict(std::string code, std::string message, nlohmann::json details = {}) {
    return {ErrorKind::conflict, std::move(code), std::move(message), {}, std::move(details), {}, {}};
  }
  static Error unprocessable(std::string code, std::string message) {
    return {ErrorKind::failed_precondition, std::move(code), std::move(message), {}, {}, {}, {}};
  }
  static Error unauthenticated(std::string code, std::string message) {
    return {ErrorKind::unauthenticated, std::move(code), std::move(message), {}, {}, {}, {}};
  }
  static Error internal(std::string message) {
    return {ErrorKind::internal, "internal", std::move(message), {}, {}, {}, {}};
  }
  // An internal error whose `cause` (a library's message, SQL text, ...) is logged, not shown.
  static Error internal(std::string message, std::string cause) {
    return {ErrorKind::internal, "internal", std::move(message), {}, {}, std::move(cause), {}};
  }
  // Any kind, with optional machine-readable details (for the kinds without a factory of their own).
  static Error make(ErrorKind kind, std::string code, std::string message, nlohmann::json details = {}) {
    return {kind, std::move(code), std::move(message), {}, std::move(details), {}, {}};
  }
};

// Either a value or an Error. Cheap to move; access to the wrong side is a bug (asserts).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(implicit)
  Result(Error error) : v_(std::move(error)) {}      // NOLINT(implicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Result for operations with no value.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace quanqu

// Returns the error of a Result-valued expression from the enclosing function.
#define QQ_TRY(expr)                                   \
  do {                                                 \
    auto&& qq_try_result_ = (expr);                    \
    if (!qq_try_result_.ok()) return std::move(qq_try_result_).error(); \
  } while (0)

#define QQ_CONCAT_INNER(a, b) a##b
#define QQ_CONCAT(a, b) QQ_CONCAT_INNER(a, b)
// Declares `lhs` from a Result-valued expression or returns its error.
#define QQ_ASSIGN_OR_RETURN(lhs, expr) QQ_ASSIGN_OR_RETURN_IMPL(QQ_CONCAT(qq_res_, __LINE__), lhs, expr)
#define QQ_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).error();  \
  lhs = std::move(tmp).value()
