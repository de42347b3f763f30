// The job registry's bookkeeping: every job's record (state, progress, full event history), the
// job ids, the bounded queue of waiting jobs, the finished jobs, which are dropped after a TTL or
// beyond a maximum count so memory stays bounded over any number of jobs, and the subscribers'
// long polls parked until their job has something new.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "actors/job_types.h"
#include "actors/messages.h"

namespace sdw::actors {

using clock_type = std::chrono::steady_clock;

struct job_record {
  std::string id;
  JobSubmission submission;  // the job's options; its request lives on, resolved, in `request`
  ResolvedRequest request;   // moved to the device when the job starts; dropped when it ends
  JobState state = JobState::queued;
  std::vector<JobEvent> events;  // history: every subscriber gets all of it, in order
  int step = 0, total = 0;
  std::string error, error_code;
  clock_type::time_point submitted, started, finished, deadline;
  uint64_t seed = 0;     // the resolved seed (every event carries it)
  std::vector<LoraUse> loras;  // the LoRAs it applies (for its complete event)
  int device = -1;       // index of the device running it
  int subscribers = 0;   // attached event streams
  size_t image_bytes = 0;  // image file bytes in `events` (previews and results)
};

// "job-" + a random (version 4) UUID.
std::string new_job_id(std::mt19937_64& rng);

struct job_counts {
  int64_t completed = 0, failed = 0, cancelled = 0;
};

class job_table {
 public:
  // Finished jobs are kept `ttl`, at most `max_finished` of them and at most `max_finished_bytes`
  // of image data in their events (the oldest are dropped first).
  job_table(size_t queue_capacity, size_t max_finished, std::chrono::milliseconds ttl,
            size_t max_finished_bytes = SIZE_MAX);

  // A fresh job id (new_job_id).
  std::string new_id() { return new_job_id(rng_); }
  // A new queued job (with its `queued` event); the caller checked queue_full().
  job_record& add(const std::string& id, JobSubmission submission, ResolvedRequest request, clock_type::time_point now,
                  clock_type::time_point deadline);
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
  // The next queued job, left on the queue (nullopt: none).
  std::optional<std::string> front_queued() const;
  std::vector<std::string> queued_ids() const { return {queue_.begin(), queue_.end()}; }
  std::vector<std::string> running_ids() const;

  // Appends an event (stamping job id and emit time) to the job's history.
  JobEvent& append(job_record& job, JobEvent event);
  // queued -> running (with the `started` event).
  void start(job_record& job, int device, clock_type::time_point now);
  // -> a terminal state (the caller appends the terminal event). Takes a queued job off the queue
  // and drops the request's images; the job stays until evict() drops it.
  void finish(job_record& job, JobState state, clock_type::time_point now);
  // Drops finished jobs older than the TTL (and beyond max_finished or max_finished_bytes); their parked polls are
  // answered with not_found. Returns their ids.
  std::vector<std::string> evict(clock_type::time_point now);
  // When the oldest finished job expires (nullopt: none finished).
  std::optional<clock_type::time_point> next_expiry() const;

  // The job's events from index `from` on; `finished` once its terminal event is among them.
  static event_batch batch_from(const job_record& job, uint64_t from);
  // Parks a long poll of `job` from `from` until it has more events or ends; returns its token
  // (new_token()) for expire().
  uint64_t park(const std::string& job, uint64_t from, caf::typed_response_promise<event_batch> promise);
  // Answers the parked polls of `job` that now have something to read.
  void deliver_polls(const job_record& job);
  // Answers the poll `token` with what there is (its wait is over); false if it is not parked.
  bool expire(uint64_t token);
  uint64_t new_token() { return next_token_++; }

 private:
  // A subscriber's long poll waiting for events.
  struct parked_poll {
    std::string job;
    uint64_t from = 0;
    caf::typed_response_promise<event_batch> events;
  };

  size_t queue_capacity_, max_finished_, max_finished_bytes_;
  size_t finished_bytes_ = 0;  // image bytes in the events of the finished jobs kept
  std::chrono::milliseconds ttl_;
  std::unordered_map<std::string, job_record> jobs_;
  std::deque<std::string> queue_;
  std::deque<std::string> finished_;  // in finishing order
  size_t running_ = 0;
  job_counts counts_;
  std::map<uint64_t, parked_poll> polls_;
  uint64_t next_token_ = 1;
  std::mt19937_64 rng_{std::random_device{}()};
};


}  // namespace sdw::actors
