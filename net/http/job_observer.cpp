// Job latency observation for the metrics (see job_observer.h).
#include "net/http/job_observer.h"

namespace sdw::net {
namespace {
constexpr size_t kRememberFinished = 4096;
}

JobObserver::JobObserver(Worker& worker, Metrics& metrics) : worker_(worker), metrics_(metrics) {
  thread_ = std::thread([this] { run(); });
}

JobObserver::~JobObserver() { stop(); }

void JobObserver::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t JobObserver::followed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return live_ + incoming_.size();
}

void JobObserver::follow(const std::string& job_id) {
  std::shared_ptr<EventStream> stream;
  try {
    stream = worker_.subscribe(job_id);
  } catch (const std::exception&) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    incoming_.push_back({job_id, std::move(stream)});
  }
  cv_.notify_all();
}

void JobObserver::observe(const JobEvent& e) {
  if (e.type != JobEvent::Type::progress && !e.terminal()) return;
  std::lock_guard<std::mutex> lock(seen_mutex_);
  if (finished_.count(e.job_id)) return;
  Progress& p = progress_[e.job_id];
  if (e.type == JobEvent::Type::progress) {
    if (e.step <= p.last_step) return;  // seen already
    // elapsed_ms counts from the job's start (prompt encoding included): a step's latency is the
    // difference between consecutive progress events, so the first step is not measured.
    if (p.last_ms >= 0 && e.step == p.last_step + 1 && e.elapsed_ms >= p.last_ms)
      metrics_.step_seconds((e.elapsed_ms - p.last_ms) / 1000.0);
    p.last_step = e.step;
    p.last_ms = e.elapsed_ms;
    return;
  }
  if (e.type == JobEvent::Type::complete) metrics_.job_seconds(e.elapsed_ms / 1000.0);
  progress_.erase(e.job_id);
  finished_.insert(e.job_id);
  finished_order_.push_back(e.job_id);
  if (finished_order_.size() > kRememberFinished) {
    finished_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
}

void JobObserver::run() {
  std::vector<Followed> live;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_ || !incoming_.empty(); });
      if (stopping_) break;
      for (auto& f : incoming_) live.push_back(std::move(f));
      incoming_.clear();
      live_ = live.size();
    }
    for (size_t i = 0; i < live.size();) {
      bool over = false;
      JobEvent e;
      while (live[i].stream->next(e, std::chrono::milliseconds(0))) {
        observe(e);
        over = over || e.terminal();
      }
      if (over || live[i].stream->finished()) {
        live[i] = std::move(live.back());
        live.pop_back();
      } else {
        ++i;
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    live_ = live.size();
  }
}

}  // namespace sdw::net
