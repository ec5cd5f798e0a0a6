// The outbox: recording events in the writer's transaction, and the relay that claims, delivers and dispatches them.
#include "events/event_bus.h"

#include "common/ids.h"
#include "storage/dynamic_query.h"
#include "storage/prune.h"

#include <thread>

namespace quanqu::events {

using nlohmann::json;

bool matches(std::string_view pattern, std::string_view type) {
  if (pattern == "*" || pattern == type) return true;
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == ".*")
    return type.size() > pattern.size() - 1 &&
           type.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  return false;
}

EventBus::EventBus(storage::Database& db, const Clock& clock, RelayOptions options)
    : db_(db), clock_(clock), options_(std::move(options)), relay_(options_.poll) {}

EventBus::~EventBus() { stop(); }

std::uint64_t EventBus::listen(Listener listener) {
  std::lock_guard lock(listeners_mutex_);
  std::uint64_t id = next_listener_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void EventBus::unlisten(std::uint64_t id) {
  std::unique_lock lock(listeners_mutex_);
  std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
  delivered_.wait(lock, [&] { return !delivering_; });
}

void EventBus::on_dispatch(DispatchHook hook) {
  std::lock_guard lock(listeners_mutex_);
  hooks_.push_back(std::move(hook));
}

void EventBus::after_dispatch(std::function<void()> callback) {
  std::lock_guard lock(listeners_mutex_);
  after_.push_back(std::move(callback));
}

std::string EventBus::record(soci::session& sql, std::string type, json data) {
  std::string id = new_id("evt");
  long long at = clock_.now_ms();
  long long ordinal = ordinal_.fetch_add(1) + 1;
  std::string text = data.dump();
  sql << "INSERT INTO event_outbox (id, type, data, occurred_at, ordinal) VALUES (:id, :t, :d, :o, :n)",
      soci::use(id), soci::use(type), soci::use(text), soci::use(at), soci::use(ordinal);
  recorded_.fetch_add(1);
  return id;
}

void EventBus::notify() { relay_.notify(); }

Status EventBus::publish(std::string type, json data) {
  auto written = db_.write<std::string>([&](soci::session& sql) -> Result<std::string> {
    return record(sql, type, data);
  });
  if (!written) return std::move(written).error();
  notify();
  return ok_status();
}

void EventBus::start() {
  relay_.start(1, [this] { return relay_once(); });
}

void EventBus::stop() { relay_.stop(); }

void EventBus::drain() { relay_.wait_until_idle(); }

Result<std::int64_t> EventBus::prune(std::int64_t before_ms, std::int64_t limit) {
  return storage::prune_finished(db_, "event_outbox", "dispatched_at", before_ms, limit);
}

Result<std::vector<Event>> EventBus::claim() {
  const bool pg = db_.backend() == storage::Backend::postgresql;
  return db_.write<std::vector<Event>>([&](soci::session& sql) -> Result<std::vector<Event>> {
    long long now = clock_.now_ms();
    long long until = now + options_.lease.count();
    long long limit = static_cast<long long>(options_.batch);
    std::vector<Event> out;
    std::string id, type, data;
    long long at = 0;
    // SKIP LOCKED: rows another node is claiming right now are passed over, not waited for.
    soci::statement st = (sql.prepare << std::string("SELECT id, type, data, occurred_at FROM event_outbox "
                                                     "WHERE dispatched_at IS NULL AND (lease_until IS NULL OR "
                                                     "lease_until < :now) ORDER BY occurred_at, ordinal LIMIT :n") +
                                             (pg ? " FOR UPDATE SKIP LOCKED" : ""),
                          soci::use(now), soci::use(limit), soci::into(id), soci::into(type), soci::into(data),
                          soci::into(at));
    st.execute();
    while (st.fetch()) {
      json parsed = json::parse(data, nullptr, false);
      if (parsed.is_discarded()) parsed = json::object();
      out.push_back({id, type, at, std::move(parsed)});
    }
    if (out.empty()) return out;
    std::vector<std::string> ids;
    for (const auto& e : out) ids.push_back(e.id);
    storage::DynamicQuery q(sql);
    q.text("UPDATE event_outbox SET lease_owner = ").param(options_.node_id);
    q.text(", lease_until = ").param(until).text(", deliveries = deliveries + 1 WHERE id IN ").in_list(ids);
    q.execute();
    return out;
  });
}

Status EventBus::extend(const std::vector<Event>& events, std::size_t from) {
  if (from >= events.size()) return ok_status();
  auto done = db_.write<Ok>([&](soci::session& sql) -> Result<Ok> {
    std::vector<std::string> ids;
    for (std::size_t i = from; i < events.size(); ++i) ids.push_back(events[i].id);
    storage::DynamicQuery q(sql);
    q.text("UPDATE event_outbox SET lease_until = ").param(clock_.now_ms() + options_.lease.count());
    q.text(" WHERE lease_owner = ").param(options_.node_id).text(" AND dispatched_at IS NULL AND id IN ").in_list(ids);
    q.execute();
    return Ok{};
  });
  return done;
}

Status EventBus::finish(const std::vector<Event>& events) {
  std::vector<DispatchHook> hooks;
  std::vector<std::function<void()>> after;
  {
    std::lock_guard lock(listeners_mutex_);
    hooks = hooks_;
    after = after_;
  }
  std::size_t count = 0;
  auto done = db_.write<Ok>([&](soci::session& sql) -> Result<Ok> {
    long long now = clock_.now_ms();
    std::vector<Event> ours;
    // Only rows still leased to us: if our lease ran out and another node took the batch over,
    // that node dispatches them (the listeners here still got them: at least once).
    for (const auto& e : events) {
      std::string got;
      sql << "UPDATE event_outbox SET dispatched_at = :d, lease_owner = NULL, lease_until = NULL "
             "WHERE id = :id AND lease_owner = :me AND dispatched_at IS NULL RETURNING id",
          soci::use(now), soci::use(e.id), soci::use(options_.node_id), soci::into(got);
      if (sql.got_data()) ours.push_back(e);
    }
    for (const auto& hook : hooks) QQ_TRY(hook(sql, ours));
    count = ours.size();
    return Ok{};
  });
  if (done) {
    dispatched_.fetch_add(count);
    for (const auto& callback : after) callback();
  }
  return done;
}

void EventBus::deliver(const Event& event) {
  std::vector<std::pair<std::uint64_t, Listener>> listeners;
  {
    std::lock_guard lock(listeners_mutex_);
    listeners = listeners_;
    delivering_ = true;
  }
  for (const auto& [id, listener] : listeners) {
    try {
      listener(event);
    } catch (...) {  // a listener's failure never stops delivery to the others
    }
  }
  {
    std::lock_guard lock(listeners_mutex_);
    delivering_ = false;
  }
  delivered_.notify_all();
}

BackgroundWorkers::Pass EventBus::relay_once() {
  auto batch = claim();
  if (!batch) return BackgroundWorkers::Pass::pause;  // the database failed: try again after a pause
  if (batch->empty()) return BackgroundWorkers::Pass::idle;
  auto lease_start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < batch->size(); ++i) {
    // Renew the lease of what is left once half of it is gone (slow listeners).
    if (std::chrono::steady_clock::now() - lease_start > options_.lease / 2) {
      (void)extend(*batch, i);
      lease_start = std::chrono::steady_clock::now();
    }
    deliver((*batch)[i]);
  }
  for (int attempt = 0; attempt < 3 && !finish(*batch).ok(); ++attempt)
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * (attempt + 1)));
  // A full batch: there may be more, so no pause.
  return batch->size() >= options_.batch ? BackgroundWorkers::Pass::again : BackgroundWorkers::Pass::pause;
}

}  // namespace quanqu::events
