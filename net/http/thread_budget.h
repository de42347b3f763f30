// cpp-httplib's task queue as a thread budget that grows with the open connections: a thread per
// connection up to `max_threads`, idle threads above `keep_threads` retire after a while. Each
// connection holds its thread (an open SSE stream too), so slow or idle clients never take the
// last thread away from /health; the connection table caps how many there can be.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

namespace sdw::net {

class ThreadBudget final : public httplib::TaskQueue {
 public:
  ThreadBudget(size_t keep_threads, size_t max_threads,
               std::chrono::milliseconds idle_retire = std::chrono::seconds(30));
  ~ThreadBudget() override;

  void enqueue(std::function<void()> fn) override;
  // Runs what was queued, then waits for every thread to end.
  void shutdown() override;

  size_t threads() const;

 private:
  void work();

  const size_t keep_;
  const size_t max_;
  const std::chrono::milliseconds idle_retire_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable ended_;
  std::deque<std::function<void()>> queue_;
  size_t threads_ = 0;
  size_t idle_ = 0;
  bool shutdown_ = false;
};

}  // namespace sdw::net
