// The denoiser's batch sizes (see batch_stats.h).
#include "actors/batch_stats.h"

namespace sdw {

void BatchStats::record(int jobs) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++steps_by_jobs_[jobs];
}

std::map<int, uint64_t> BatchStats::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return steps_by_jobs_;
}

}  // namespace sdw
