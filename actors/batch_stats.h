// The denoiser's batch sizes (continuous batching, actors/denoiser.h), plain C++ (no CAF) and
// header-only, so net/ uses it without linking the actors: every step task records how many jobs
// shared its UNet call; /metrics reads the counts. One object per worker, shared by the
// denoisers of every device and the HTTP layer.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

namespace sdw {

class BatchStats {
 public:
  // One step task of `jobs` jobs.
  void record(int jobs) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++steps_by_jobs_[jobs];
  }
  // Step tasks by the number of jobs they held.
  std::map<int, uint64_t> snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return steps_by_jobs_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<int, uint64_t> steps_by_jobs_;
};

}  // namespace sdw
