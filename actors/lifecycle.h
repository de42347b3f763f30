// The worker's lifecycle listeners: local callbacks (logs, heartbeats) that get every status
// change and narration line the actors emit. A listener added late first gets the last kHistory
// events (e.g. the model load it missed).
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "actors/job_types.h"

namespace sdw::actors {

class status_listeners {
 public:
  static constexpr size_t kHistory = 64;
  void add(std::function<void(const LifecycleEvent&)> fn);
  // Stamps emitted_at_ms when unset and calls every listener.
  void notify(LifecycleEvent event);
  void status(const std::string& status);
  void narrate(const std::string& actor, const std::string& action, const std::string& target, const std::string& human,
               const std::string& level = "info");

 private:
  std::mutex mutex_;
  std::vector<std::function<void(const LifecycleEvent&)>> fns_;
  std::deque<LifecycleEvent> history_;
};

// Unix time in ms.
int64_t epoch_ms_now();

}  // namespace sdw::actors
