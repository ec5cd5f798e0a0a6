// The request_idempotency table: claims, stored replies, releases and pruning.
#include "idempotency/idempotency_service.h"
#include "common/random.h"

#include <algorithm>

namespace quanqu::idempotency {

IdempotencyService::IdempotencyService(storage::Database& db, const Clock& clock, IdempotencyOptions options)
    : db_(db), clock_(clock), options_(options) {}

Status IdempotencyService::validate_key(std::string_view key) {
  bool ok = !key.empty() && key.size() <= 255 &&
            std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x21 && c <= 0x7E; });
  if (ok) return ok_status();
  return Error::invalid("idempotency.key_invalid", "an Idempotency-Key must be 1 to 255 printable ASCII characters",
                        {{"Idempotency-Key", "must be 1 to 255 printable ASCII characters"}});
}

Result<Claim> IdempotencyService::claim(const std::string& scope, const std::string& key,
                                        const std::string& fingerprint) {
  std::int64_t now = clock_.now_ms();
  std::int64_t last = last_prune_ms_.load();
  if (now - last >= 60'000 && last_prune_ms_.compare_exchange_strong(last, now)) (void)prune();

  return db_.write<Claim>([&](soci::session& sql) -> Result<Claim> {
    std::string stored_fingerprint, state, content_type, location, body;
    int status = 0;
    long long claimed_at = 0, created_at = 0;
    soci::indicator status_ind, type_ind, location_ind, body_ind;
    sql << "SELECT fingerprint, state, status, content_type, location, body, claimed_at, created_at "
           "FROM request_idempotency WHERE scope = :s AND idem_key = :k",
        soci::into(stored_fingerprint), soci::into(state), soci::into(status, status_ind),
        soci::into(content_type, type_ind), soci::into(location, location_ind), soci::into(body, body_ind),
        soci::into(claimed_at), soci::into(created_at), soci::use(scope), soci::use(key);
    bool found = sql.got_data();
    if (found && created_at < now - options_.ttl_ms) {
      sql << "DELETE FROM request_idempotency WHERE scope = :s AND idem_key = :k", soci::use(scope), soci::use(key);
      found = false;
    }
    Claim claim;
    claim.claim_id = random_hex(12);
    long long at = now;
    if (!found) {
      std::string pending = "pending";
      sql << "INSERT INTO request_idempotency (scope, idem_key, fingerprint, state, claim_id, claimed_at, created_at) "
             "VALUES (:s, :k, :f, :st, :c, :a, :t)",
          soci::use(scope), soci::use(key), soci::use(fingerprint), soci::use(pending), soci::use(claim.claim_id),
          soci::use(at), soci::use(at);
      claim.claimed = true;
      return claim;
    }
    if (stored_fingerprint != fingerprint)
      return Error::conflict("idempotency.key_reused",
                             "this Idempotency-Key was used for a different request; use a new key");
    if (state == "done") {
      claim.replay = {status, storage::or_empty(content_type, type_ind), storage::or_empty(body, body_ind),
                      storage::or_empty(location, location_ind)};
      return claim;
    }
    if (claimed_at >= now - options_.lease_ms) {
      std::int64_t wait_s = std::clamp<std::int64_t>((claimed_at + options_.lease_ms - now + 999) / 1000, 1, 5);
      return Error::conflict("idempotency.in_progress",
                             "a request with this Idempotency-Key is still being processed; retry shortly",
                             {{"retry_after", wait_s}});
    }
    // A claim whose run outlived the lease: that run died. Take it over.
    sql << "UPDATE request_idempotency SET claim_id = :c, claimed_at = :a WHERE scope = :s AND idem_key = :k",
        soci::use(claim.claim_id), soci::use(at), soci::use(scope), soci::use(key);
    claim.claimed = true;
    return claim;
  });
}

Status IdempotencyService::complete(const std::string& scope, const std::string& key, const std::string& claim_id,
                                    const StoredReply& reply) {
  return db_.write<Ok>([&](soci::session& sql) -> Status {
    std::string done = "done";
    int status = reply.status;
    soci::indicator location_ind = reply.location.empty() ? soci::i_null : soci::i_ok;
    sql << "UPDATE request_idempotency SET state = :st, status = :code, content_type = :ct, location = :loc, "
           "body = :b WHERE scope = :s AND idem_key = :k AND claim_id = :c",
        soci::use(done), soci::use(status), soci::use(reply.content_type), soci::use(reply.location, location_ind),
        soci::use(reply.body), soci::use(scope), soci::use(key), soci::use(claim_id);
    return ok_status();
  });
}

Status IdempotencyService::release(const std::string& scope, const std::string& key, const std::string& claim_id) {
  return db_.write<Ok>([&](soci::session& sql) -> Status {
    std::string pending = "pending";
    sql << "DELETE FROM request_idempotency WHERE scope = :s AND idem_key = :k AND claim_id = :c AND state = :st",
        soci::use(scope), soci::use(key), soci::use(claim_id), soci::use(pending);
    return ok_status();
  });
}

Result<long long> IdempotencyService::prune() {
  return db_.write<long long>([&](soci::session& sql) -> Result<long long> {
    long long cutoff = clock_.now_ms() - options_.ttl_ms;
    soci::statement st = (sql.prepare << "DELETE FROM request_idempotency WHERE created_at < :t", soci::use(cutoff));
    st.execute(true);
    return static_cast<long long>(st.get_affected_rows());
  });
}

}  // namespace quanqu::idempotency
