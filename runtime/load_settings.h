// The model-loading flags (cli_model_load.h) as the settings the actors load with
// (ModelLoadSettings): for `serve` and `sd-worker node`.
#pragma once

#include "actors/model_load_settings.h"
#include "runtime/cli_model_load.h"

namespace sdw {

// Every ModelLoadSettings field but `model` and `dtype` (left as they are): the flags checked
// (check_model_load_options), the embeddings folders opened, the ControlNets checked and listed
// by path (served_controlnets.h). Throws std::invalid_argument naming the flag.
void fill_load_settings(const ModelLoadCli& options, ModelLoadSettings& settings);

}  // namespace sdw
