// Domain events through a durable outbox: written in the transaction of the change, relayed after commit.
#pragma once

#include "common/background_workers.h"
#include "common/clock.h"
#include "common/result.h"
#include "storage/database.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace quanqu::events {

// One thing that happened: "order.placed", "inventory.changed", ... with its facts in `data`.
struct Event {
  std::string id;  // evt_...: stable; the same id reaches every plugin and webhook, and every retry
  std::string type;
  std::int64_t occurred_at = 0;  // ms since the Unix epoch: when the change was written
  nlohmann::json data;
};

struct RelayOptions {
  std::string node_id = "node";  // names this process in leases
  // How long a claimed batch is ours; renewed while delivery goes on. A crashed node's batch is
  // taken over by another (or by the same one restarted) once its lease has run out.
  std::chrono::milliseconds lease{30000};
  // How often the outbox is looked at when nothing was written here (another node's events).
  std::chrono::milliseconds poll{500};
  std::size_t batch = 100;
};

// The outbox and its relay.
//
// Writers call record() inside the transaction that makes the change, so the event exists if and
// only if the change committed, then notify() after the commit to wake the relay. The relay (one
// thread per process, started by start()) claims pending events in (occurred_at, ordinal) order
// with a lease (PostgreSQL: FOR UPDATE SKIP LOCKED, so nodes sharing a database never claim the
// same row; SQLite: the single writer), calls every listener with each event in turn, then, in
// one transaction, marks the batch dispatched and runs the dispatch hooks (webhook fan-out).
// Each event is thus dispatched once over all nodes; listeners get it at least once: a node that
// dies between delivering and marking has its batch delivered again after the lease ran out.
// A listener that throws is the listener's problem (the plugin host catches around plugins).
class EventBus {
 public:
  using Listener = std::function<void(const Event&)>;
  // Runs inside the transaction that marks `events` dispatched; an error rolls it back (the
  // batch is retried after a pause).
  using DispatchHook = std::function<Status(soci::session&, const std::vector<Event>&)>;

  EventBus(storage::Database& db, const Clock& clock, RelayOptions options = {});
  ~EventBus();  // stop()
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Adds a listener (before or after events start flowing). Returns its id for unlisten().
  std::uint64_t listen(Listener listener);
  // Removes a listener and waits until a delivery to it in progress has returned (do not call
  // it from a listener).
  void unlisten(std::uint64_t id);
  // Adds a hook run when events are dispatched (before start()).
  void on_dispatch(DispatchHook hook);
  // Adds a callback run after a dispatch committed (e.g. to wake the webhook senders).
  void after_dispatch(std::function<void()> callback);

  // Writes an event into the outbox inside the caller's transaction, stamped with a new id and the
  // clock's time. Returns the id.
  std::string record(soci::session& sql, std::string type, nlohmann::json data);
  // Wakes the relay of this process; call after the transaction that recorded events committed.
  void notify();
  // record() in a transaction of its own, then notify() (events that change nothing else: a plugin's).
  Status publish(std::string type, nlohmann::json data);

  // Starts the relay thread. Without it events stay in the outbox for another node.
  void start();
  // Stops the relay after the batch in hand (joins the thread); start() may follow.
  void stop();
  // Blocks until the relay has found the outbox empty of events it could claim, after every event
  // recorded before the call (tests, shutdown). Returns at once when the relay is not running.
  void drain();

  std::uint64_t published() const { return recorded_.load(); }   // recorded by this process
  std::uint64_t dispatched() const { return dispatched_.load(); }  // dispatched by this process's relay
  std::uint64_t dropped() const { return 0; }                       // the outbox drops nothing

  // Deletes dispatched events older than `before_ms`, at most `limit`; returns how many.
  Result<std::int64_t> prune(std::int64_t before_ms, std::int64_t limit);

 private:
  // One pass of the relay: claims a batch, delivers it, marks it dispatched.
  BackgroundWorkers::Pass relay_once();
  Result<std::vector<Event>> claim();
  Status extend(const std::vector<Event>& events, std::size_t from);
  Status finish(const std::vector<Event>& events);
  void deliver(const Event& event);

  storage::Database& db_;
  const Clock& clock_;
  const RelayOptions options_;
  std::atomic<std::uint64_t> recorded_{0};
  std::atomic<std::uint64_t> dispatched_{0};
  std::atomic<std::int64_t> ordinal_{0};

  std::mutex listeners_mutex_;
  std::condition_variable delivered_;
  std::vector<std::pair<std::uint64_t, Listener>> listeners_;
  std::uint64_t next_listener_ = 1;
  bool delivering_ = false;
  std::vector<DispatchHook> hooks_;
  std::vector<std::function<void()>> after_;

  BackgroundWorkers relay_;  // last: stopped before the rest goes
};

// True when `type` is matched by `pattern`: the exact type, a prefix "order.*", or "*".
bool matches(std::string_view pattern, std::string_view type);

}  // namespace quanqu::events
