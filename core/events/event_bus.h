// Domain events: the core publishes what happened after it commits; listeners get them in order on one thread.
#pragma once

#include "common/clock.h"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace quanqu::events {

// One thing that happened: "order.placed", "inventory.changed", ... with its facts in `data`.
struct Event {
  std::string id;  // evt_...
  std::string type;
  std::int64_t occurred_at = 0;  // ms since the Unix epoch
  nlohmann::json data;
};

// In-process event delivery. publish() never blocks on a listener: events go into a bounded
// queue that one worker thread drains, calling every listener in publication order. A listener
// that throws is the listener's problem (the plugin host catches around plugins); the bus logs
// nothing itself and keeps delivering. When the queue is full, new events are dropped and
// counted (dropped()), never the writer slowed down. With no listener, publish() is a no-op.
class EventBus {
 public:
  using Listener = std::function<void(const Event&)>;

  explicit EventBus(const Clock& clock, std::size_t capacity = 100'000);
  ~EventBus();  // delivers what is queued, then joins the worker
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Adds a listener (before or after events start flowing); starts the worker on first use.
  // Returns its id for unlisten().
  std::uint64_t listen(Listener listener);
  // Removes a listener and waits until a delivery to it in progress has returned (do not call
  // it from a listener).
  void unlisten(std::uint64_t id);
  // Queues an event, stamped with a new id and the clock's time. Call it after the change committed.
  void publish(std::string type, nlohmann::json data);
  // Blocks until every event published before the call has been delivered (tests, shutdown).
  void drain();

  std::uint64_t published() const;
  std::uint64_t dropped() const;

 private:
  void run();

  const Clock& clock_;
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Event> queue_;
  std::vector<std::pair<std::uint64_t, Listener>> listeners_;
  std::uint64_t next_listener_ = 1;
  bool delivering_ = false;
  bool stopping_ = false;
  std::uint64_t published_ = 0;
  std::uint64_t dropped_ = 0;
  std::thread worker_;
};

// True when `type` is matched by `pattern`: the exact type, a prefix "order.*", or "*".
bool matches(std::string_view pattern, std::string_view type);

}  // namespace quanqu::events
