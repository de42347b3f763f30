// The growing thread budget (see thread_budget.h).
#include "net/http/thread_budget.h"

#include <thread>

namespace sdw::net {

ThreadBudget::ThreadBudget(size_t keep_threads, size_t max_threads, std::chrono::milliseconds idle_retire)
    : keep_(keep_threads), max_(std::max(max_threads, size_t{1})), idle_retire_(idle_retire) {}

ThreadBudget::~ThreadBudget() { shutdown(); }

void ThreadBudget::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mutex_);
  queue_.push_back(std::move(fn));
  if (idle_ >= queue_.size() || threads_ >= max_) {
    wake_.notify_one();
    return;
  }
  ++threads_;
  // Detached: shutdown() waits for the count to reach zero; a thread touches nothing of ours
  // after it has decremented the count under the lock.
  std::thread([this] { work(); }).detach();
}

void ThreadBudget::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    if (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      fn = nullptr;
      lock.lock();
      continue;
    }
    if (shutdown_) break;
    ++idle_;
    const bool woke = wake_.wait_for(lock, idle_retire_, [this] { return !queue_.empty() || shutdown_; });
    --idle_;
    if (!woke && threads_ > keep_) break;  // idle for a while and above the kept number: retire
  }
  --threads_;
  ended_.notify_all();
}

void ThreadBudget::shutdown() {
  std::unique_lock<std::mutex> lock(mutex_);
  shutdown_ = true;
  wake_.notify_all();
  ended_.wait(lock, [this] { return threads_ == 0; });
}

size_t ThreadBudget::threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return threads_;
}

}  // namespace sdw::net
