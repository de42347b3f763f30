// `sd-worker bench --controlnet`: the cost of one ControlNet per denoising step. A ControlNet of
// the real SD ControlNet architecture (the UNet's encoder half, conditioning embedding
// (16, 32, 96, 256)) with seeded random weights runs beside the model's UNet at the bench size;
// the table gives the UNet step alone, the step with the ControlNet (controlnet_residuals + the
// UNet with the residuals, as denoise_step runs them) and the difference, measured in
// interleaved rounds in one process so machine load hits both alike.
#pragma once

#include "model/pipeline/sd_model.h"

namespace sdw {

int run_controlnet_bench(SdModel& model, int width, int height, double guidance, int warmup, int runs);

}  // namespace sdw
