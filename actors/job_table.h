// The job registry's bookkeeping, without actors: every job's record (state, progress, full event
// history), the bounded queue of waiting jobs, and the finished jobs, which are dropped after a
// TTL or beyond a maximum count so memory stays bounded over any number of jobs.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/messages.h"
#include "actors/worker.h"

namespace sdw::actors {

using clock_type = std::chrono::steady_clock;

struct job_record {
  std::string id;
  job_spec spec;  // cleared of its images once the job finished
  JobState state = JobState::queued;
  std::vector<JobEvent> events;  // history: every subscriber gets all of it, in order
  int step = 0, total = 0;
  std::string error, error_code;
  clock_type::time_point submitted, started, finished, deadline;
  int device = -1;       // index of the device running it
  int subscribers = 0;   // attached event streams
};

struct job_counts {
  int64_t completed = 0, failed = 0, cancelled = 0;
};

class job_table {
 public:
  job_table(size_t queue_capacity, size_t max_finished, std::chrono::milliseconds ttl);

  // A new queued job (with its `queued` event); the caller checked queue_full().
  job_record& add(const std::string& id, job_spec spec, clock_type::time_point now, clock_type::time_point deadline);
  job_record* find(const std::string& id);
  const job_record* find(const std::string& id) const;

  bool queue_full() const { return queue_.size() >= queue_capacity_; }
  size_t queued() const { return queue_.size(); }
  size_t running() const { return running_; }
  size_t size() const { return jobs_.size(); }
  size_t finished() const { return finished_.size(); }
  const job_counts& counts() const { return counts_; }
  // 1-based position in the queue, 0 when not queued.
  int queue_position(const std::string& id) const;
  // The next queued job, taken off the queue (nullopt: none).
  std::optional<std::string> pop_queued();
  std::vector<std::string> queued_ids() const { return {queue_.begin(), queue_.end()}; }
  std::vector<std::string> running_ids() const;

  // Appends an event (stamping job id and emit time) to the job's history.
  JobEvent& append(job_record& job, JobEvent event);
  // queued -> running (with the `started` event).
  void start(job_record& job, int device, clock_type::time_point now);
  // -> a terminal state (the caller appends the terminal event). Takes a queued job off the queue
  // and drops the request's images; the job stays until evict() drops it.
  void finish(job_record& job, JobState state, clock_type::time_point now);
  // Drops finished jobs older than the TTL (and beyond max_finished); returns their ids.
  std::vector<std::string> evict(clock_type::time_point now);
  // When the oldest finished job expires (nullopt: none finished).
  std::optional<clock_type::time_point> next_expiry() const;

 private:
  size_t queue_capacity_, max_finished_;
  std::chrono::milliseconds ttl_;
  std::unordered_map<std::string, job_record> jobs_;
  std::deque<std::string> queue_;
  std::deque<std::string> finished_;  // in finishing order
  size_t running_ = 0;
  job_counts counts_;
};

int64_t epoch_ms_now();

}  // namespace sdw::actors
