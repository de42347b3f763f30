// The denoisers' batch sizes in Prometheus' text format (continuous batching, /metrics).
#pragma once

#include <string>

#include "actors/batch_stats.h"

namespace sdw::net {

// sdw_denoiser_steps_total{jobs="N"}: step tasks (one UNet call each) that served N jobs at once,
// for every N seen; "" for a null `stats`.
std::string batch_metrics_text(const BatchStats* stats);

}  // namespace sdw::net
