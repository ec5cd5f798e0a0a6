// Idempotency keys of create requests: claim a key, then store the first reply or release it.
#pragma once

#include "common/clock.h"
#include "common/result.h"
#include "storage/database.h"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quanqu::idempotency {

// A reply as it is stored and replayed: status, content type, body and Location.
struct StoredReply {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string location;  // empty: none
};

// What claim() decided. `claimed`: the caller runs the request and then calls complete() (for a
// 2xx reply) or release() (for anything else) with `claim_id`. Otherwise `replay` is the first
// request's reply, to be sent again.
struct Claim {
  bool claimed = false;
  std::string claim_id;
  StoredReply replay;
};

struct IdempotencyOptions {
  // How long a key is remembered after its first use; older rows are pruned, and a key older
  // than this is treated as never seen.
  std::int64_t ttl_ms = 24LL * 60 * 60 * 1000;
  // How long a claim protects a request still running. A pending claim older than this is
  // taken to belong to a run that died (the process crashed) and may be taken over. It outlasts
  // the longest request: one that waits on a plugin (a payment provider) for its longest
  // deadline, 300 s (PluginHost::kMaxTimeoutMs), with a minute to spare.
  std::int64_t lease_ms = 6 * 60 * 1000;
};

// Thread-safe; every method is one short transaction.
//
// The crash window: the request runs between claim() and complete(), in its own transaction(s).
// If the process dies after the request committed and before complete() stored its reply, the
// key stays pending: a retry within the lease gets 409 `idempotency.in_progress`, and a retry
// after it takes the claim over and runs the request again (a second resource may then be
// created: at-least-once in that window only, which is microseconds wide in a live process).
class IdempotencyService {
 public:
  IdempotencyService(storage::Database& db, const Clock& clock, IdempotencyOptions options = {});

  // 1 to 255 printable ASCII characters (0x21..0x7E), or a 400 `idempotency.key_invalid`.
  static Status validate_key(std::string_view key);

  // In one transaction, for (scope, key): an unknown (or expired) key is claimed for this
  // request; a key whose stored fingerprint differs is a 409 `idempotency.key_reused` whatever
  // its state; a completed key gives its reply to replay; a key claimed by a request still
  // running (within the lease) is a 409 `idempotency.in_progress` whose details carry
  // "retry_after" (seconds); a pending key past its lease is taken over (claimed again).
  // Concurrent claims of one key: exactly one is claimed (the unique key serialises them).
  // Prunes expired rows at most once a minute.
  Result<Claim> claim(const std::string& scope, const std::string& key, const std::string& fingerprint);

  // Stores the reply of a claimed key (state 'done'). A claim that was taken over meanwhile
  // (claim_id differs) is left alone.
  Status complete(const std::string& scope, const std::string& key, const std::string& claim_id,
                  const StoredReply& reply);

  // Forgets a claimed key whose request was refused or failed, so that it can be used again.
  Status release(const std::string& scope, const std::string& key, const std::string& claim_id);

  // Deletes rows older than the ttl; returns how many.
  Result<long long> prune();

  const IdempotencyOptions& options() const { return options_; }

 private:
  storage::Database& db_;
  const Clock& clock_;
  IdempotencyOptions options_;
  std::atomic<std::int64_t> last_prune_ms_{0};
};

}  // namespace quanqu::idempotency
