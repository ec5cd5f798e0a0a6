// One bounded DELETE of old finished rows (a sub-select with LIMIT: PostgreSQL has no DELETE ... LIMIT).
#include "storage/prune.h"

#include <string>

namespace quanqu::storage {

Result<std::int64_t> prune_finished(Database& db, std::string_view table, std::string_view finished_column,
                                    std::int64_t before_ms, std::int64_t limit) {
  const std::string t(table), c(finished_column);
  return db.write<std::int64_t>([&](soci::session& sql) -> Result<std::int64_t> {
    long long before = before_ms, n = limit;
    soci::statement st = (sql.prepare << "DELETE FROM " + t + " WHERE id IN (SELECT id FROM " + t + " WHERE " + c +
                                             " IS NOT NULL AND " + c + " < :b LIMIT :n)",
                          soci::use(before), soci::use(n));
    st.execute(true);
    return static_cast<std::int64_t>(st.get_affected_rows());
  });
}

}  // namespace quanqu::storage
