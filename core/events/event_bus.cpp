// The event bus's queue and its delivery thread.
#include "events/event_bus.h"

#include "common/ids.h"

namespace quanqu::events {

bool matches(std::string_view pattern, std::string_view type) {
  if (pattern == "*" || pattern == type) return true;
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == ".*")
    return type.size() > pattern.size() - 1 &&
           type.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  return false;
}

EventBus::EventBus(const Clock& clock, std::size_t capacity) : clock_(clock), capacity_(capacity) {}

EventBus::~EventBus() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

std::uint64_t EventBus::listen(Listener listener) {
  std::lock_guard lock(mutex_);
  std::uint64_t id = next_listener_++;
  listeners_.emplace_back(id, std::move(listener));
  if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
  return id;
}

void EventBus::unlisten(std::uint64_t id) {
  std::unique_lock lock(mutex_);
  std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
  idle_.wait(lock, [&] { return !delivering_; });
}

void EventBus::publish(std::string type, nlohmann::json data) {
  Event event{new_id("evt"), std::move(type), clock_.now_ms(), std::move(data)};
  {
    std::lock_guard lock(mutex_);
    if (listeners_.empty() || stopping_) return;
    ++published_;
    if (queue_.size() >= capacity_) {
      ++dropped_;
      return;
    }
    queue_.push_back(std::move(event));
  }
  wake_.notify_one();
}

void EventBus::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return (queue_.empty() && !delivering_) || !worker_.joinable(); });
}

std::uint64_t EventBus::published() const {
  std::lock_guard lock(mutex_);
  return published_;
}

std::uint64_t EventBus::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void EventBus::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and everything is delivered
    Event event = std::move(queue_.front());
    queue_.pop_front();
    delivering_ = true;
    auto listeners = listeners_;
    lock.unlock();
    for (const auto& [id, listener] : listeners) {
      try {
        listener(event);
      } catch (...) {  // a listener's failure never stops delivery to the others
      }
    }
    lock.lock();
    delivering_ = false;
    idle_.notify_all();
  }
  idle_.notify_all();
}

}  // namespace quanqu::events
