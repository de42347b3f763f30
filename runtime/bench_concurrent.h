// `sd-worker bench --concurrent N`: N jobs that arrive together (the bench's request with seeds
// 1..N), run one at a time and then continuously batched (every waiting job's step in one UNet
// call, as the denoiser does with `serve --max-batch N`), each job decoded as soon as its loop
// ends. Prints images/s and per-job latency (p50, p90, max; from the common arrival) for both,
// their ratio, and each job's largest pixel difference between the two runs.
#pragma once

#include "model/pipeline/request.h"

namespace sdw {

struct SdModel;

void run_concurrent_bench(SdModel& model, const GenerationRequest& request, const RequestLimits& limits, int jobs);

}  // namespace sdw
