// What AUTOMATIC1111's single-user endpoints refer to. A1111 runs one generation at a time and
// `progress`, `interrupt` and `skip` act on "the current one"; here txt2img/img2img requests are
// ordinary jobs that may queue, and the current one is the oldest A1111 request still going:
// its current job (one per n_iter iteration), the step, the latest preview and its start time.
// Thread-safe; one per server (ServerContext::a1111).
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>

#include "actors/job_types.h"

namespace sdw::net {

class A1111Session {
 public:
  using Id = uint64_t;
  struct Snapshot {
    std::string job_id;  // "" before the first iteration's job is queued
    int iteration = 0, iterations = 1;
    int step = 0, total = 0;
    bool interrupted = false, skipped = false;
    std::string preview_png;  // the latest preview of the current job ("" none yet)
    std::chrono::steady_clock::time_point started;
    std::string timestamp;    // A1111's job_timestamp, YYYYmmddHHMMSS (UTC)
  };

  Id begin(int iterations);
  // The job of `iteration` is queued; true when the request was interrupted meanwhile (the caller
  // cancels the job).
  bool set_job(Id id, const std::string& job_id, int iteration);
  void observe(Id id, const JobEvent& event);  // progress and preview events of its job
  bool interrupted(Id id) const;
  void end(Id id);

  std::optional<Snapshot> current() const;
  // Marks the current request interrupted (no later iteration starts) and returns the job to
  // cancel, if one is queued.
  std::optional<std::string> interrupt();
  // Marks the current iteration skipped and returns its job to cancel; the next one still runs.
  std::optional<std::string> skip();

 private:
  struct Entry {
    Id id;
    Snapshot s;
  };
  Entry* find(Id id);
  const Entry* find(Id id) const;

  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // oldest first
  Id next_ = 1;
};

}  // namespace sdw::net
