// A statement whose parameter count is known only at run time, such as an IN (...) list.
#pragma once

#include <soci/soci.h>

#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace quanqu::storage {

// Build the text and its bound values together, register into() targets, then execute and
// fetch like a soci::statement. Values are copied and kept alive by the query.
class DynamicQuery {
 public:
  explicit DynamicQuery(soci::session& sql) : statement_(sql) {}

  DynamicQuery& text(std::string_view sql) {
    text_ += sql;
    return *this;
  }
  DynamicQuery& param(std::string value) {
    strings_.push_back(std::move(value));
    statement_.exchange(soci::use(strings_.back()));
    return placeholder();
  }
  DynamicQuery& param(long long value) {
    ints_.push_back(value);
    statement_.exchange(soci::use(ints_.back()));
    return placeholder();
  }
  // "(:p0, :p1, ...)"; an empty list becomes "(NULL)", which matches nothing.
  DynamicQuery& in_list(const std::vector<std::string>& values) {
    text_ += '(';
    if (values.empty()) text_ += "NULL";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) text_ += ", ";
      param(values[i]);
    }
    text_ += ')';
    return *this;
  }
  template <class T>
  DynamicQuery& into(T& target) {
    statement_.exchange(soci::into(target));
    return *this;
  }
  template <class T>
  DynamicQuery& into(T& target, soci::indicator& ind) {
    statement_.exchange(soci::into(target, ind));
    return *this;
  }

  // Runs the statement; true when a first row was fetched into the targets.
  bool execute() {
    statement_.alloc();
    statement_.prepare(text_);
    statement_.define_and_bind();
    return statement_.execute(true);
  }
  // The next row; false at the end.
  bool fetch() { return statement_.fetch(); }
  long long affected_rows() { return statement_.get_affected_rows(); }

 private:
  DynamicQuery& placeholder() {
    text_ += ":p" + std::to_string(count_++);
    return *this;
  }
  soci::statement statement_;
  std::string text_;
  std::deque<std::string> strings_;
  std::deque<long long> ints_;
  int count_ = 0;
};

}  // namespace quanqu::storage
