// Deleting old finished rows in bounded batches, for the tables that keep a history (jobs, the event outbox).
#pragma once

#include "common/result.h"
#include "storage/database.h"

#include <cstdint>
#include <string_view>

namespace quanqu::storage {

// Deletes, in a transaction of its own, at most `limit` rows of `table` whose `finished_column`
// (ms since the Unix epoch) is set and earlier than `before_ms`; returns how many went. The
// table needs an `id` key. `table` and `finished_column` are spliced into the SQL: pass names
// written in the code, never input.
Result<std::int64_t> prune_finished(Database& db, std::string_view table, std::string_view finished_column,
                                    std::int64_t before_ms, std::int64_t limit);

}  // namespace quanqu::storage
