// Feeds the latency metrics (step and job durations) from job events, once per job however
// many readers it has. Jobs are followed in the background by one thread that polls one
// subscription per live job, so metrics do not depend on anyone reading the stream; jobs that
// asked for cancel_on_disconnect are not followed (the worker cancels such a job when its last
// reader detaches, and a follower would count as a reader): their events reach observe() from
// the SSE streams that read them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "actors/worker.h"
#include "net/http/metrics.h"

namespace sdw::net {

class JobObserver {
 public:
  JobObserver(Worker& worker, Metrics& metrics);
  ~JobObserver();
  JobObserver(const JobObserver&) = delete;
  JobObserver& operator=(const JobObserver&) = delete;

  // Starts following `job_id` in the background (errors, e.g. a job already forgotten, are ignored).
  void follow(const std::string& job_id);
  // Records one event of any job; repeated events (history replayed to a late reader, a second
  // reader of the same job) are counted once.
  void observe(const JobEvent& event);
  void stop();
  size_t followed() const;

 private:
  struct Followed {
    std::string job_id;
    std::shared_ptr<EventStream> stream;
  };
  struct Progress {
    int last_step = 0;
    double last_ms = -1;
  };
  void run();

  Worker& worker_;
  Metrics& metrics_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Followed> incoming_;
  size_t live_ = 0;
  bool stopping_ = false;
  std::thread thread_;

  std::mutex seen_mutex_;
  std::map<std::string, Progress> progress_;  // live jobs
  std::set<std::string> finished_;            // recent finished jobs, oldest evicted first
  std::deque<std::string> finished_order_;
};

}  // namespace sdw::net
