// The built-in demo model: a small SD1.x-architecture pipeline with deterministic random weights
// made in code (no files but the CLIP vocabulary shipped with the worker), so every path of the
// worker runs on a fresh machine. Its images are noise.
#pragma once

#include <memory>

#include "model/pipeline/sd_model.h"

namespace sdw {

// Seeded initialisation of every parameter (norm weights 1, biases small, weights ~ N(0, 1/fan_in)),
// identical on every machine for the same seed.
void init_demo_weights(torch::nn::Module& module, uint64_t seed);

std::shared_ptr<SdModel> make_demo_model(const ModelLoadOptions& options);

// A full-size architecture with seeded random weights, from a folder of diffusers configs
// (`<dir>/{unet,vae,text_encoder}/config.json`, `<dir>/scheduler/scheduler_config.json`): for
// benchmarks, where weight values do not change the cost. `with_text_encoder = false` skips it.
// A `text_encoder_2/config.json` makes it SDXL (second tokenizer and CLIPTextModelWithProjection).
std::shared_ptr<SdModel> make_random_model(const std::string& config_dir, const ModelLoadOptions& options,
                                           bool with_text_encoder = true);

}  // namespace sdw
