// The schema migrations compiled into the binary from core/storage/migrations/*.sql.
#pragma once

#include <string_view>
#include <vector>

namespace quanqu::storage {

struct Migration {
  long long version;       // from the file name: 0001_init.sql -> 1
  std::string_view name;   // the file name
  std::string_view sql;    // statements separated by ";" at the end of a line
};

// All migrations in ascending version order.
const std::vector<Migration>& embedded_migrations();

}  // namespace quanqu::storage
