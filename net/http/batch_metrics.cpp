// The denoisers' batch sizes for /metrics (see batch_metrics.h).
#include "net/http/batch_metrics.h"

#include <sstream>

namespace sdw::net {

std::string batch_metrics_text(const BatchStats* stats) {
  if (!stats) return "";
  std::ostringstream os;
  os << "# HELP sdw_denoiser_steps_total Denoising step tasks (one UNet call each) by the number of jobs they served "
        "at once (continuous batching)\n"
     << "# TYPE sdw_denoiser_steps_total counter\n";
  for (const auto& [jobs, count] : stats->snapshot()) os << "sdw_denoiser_steps_total{jobs=\"" << jobs << "\"} " << count << "\n";
  return os.str();
}

}  // namespace sdw::net
