// Lifecycle listeners (see lifecycle.h).
#include "actors/lifecycle.h"

#include <chrono>

namespace sdw::actors {

int64_t epoch_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void status_listeners::add(std::function<void(const LifecycleEvent&)> fn) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& e : history_) fn(e);
  fns_.push_back(std::move(fn));
}

void status_listeners::notify(LifecycleEvent event) {
  if (event.emitted_at_ms == 0) event.emitted_at_ms = epoch_ms_now();
  // Under the lock, so that a listener being added sees each event exactly once.
  std::lock_guard<std::mutex> lock(mutex_);
  history_.push_back(event);
  if (history_.size() > kHistory) history_.pop_front();
  for (auto& fn : fns_) fn(event);
}

void status_listeners::status(const std::string& status) {
  LifecycleEvent e;
  e.kind = LifecycleEvent::Kind::status;
  e.status = status;
  e.actor = "worker";
  e.action = "status";
  e.target = status;
  e.level = status == "failed" ? "error" : "info";
  e.human = status == "failed" ? "The worker could not load its model and serves no jobs"
                               : "Worker status: " + status;
  notify(std::move(e));
}

void status_listeners::narrate(const std::string& actor, const std::string& action, const std::string& target,
                               const std::string& human, const std::string& level) {
  LifecycleEvent e;
  e.actor = actor;
  e.action = action;
  e.target = target;
  e.human = human;
  e.level = level;
  notify(std::move(e));
}

}  // namespace sdw::actors
