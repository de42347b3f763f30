// The denoiser's batch sizes (continuous batching, actors/denoiser.h), plain C++ (no CAF): every
// step task records how many jobs shared its UNet call; /metrics reads the counts. One object per
// worker, shared by the denoisers of every device and the HTTP layer.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

namespace sdw {

class BatchStats {
 public:
  // One step task of `jobs` jobs.
  void record(int jobs);
  // Step tasks by the number of jobs they held.
  std::map<int, uint64_t> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<int, uint64_t> steps_by_jobs_;
};

}  // namespace sdw
