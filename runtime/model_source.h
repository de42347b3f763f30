// Turns what a user passes as --model into a loaded SdModel: "demo" (or nothing), a diffusers
// folder, a single checkpoint file (refused with a clear reason where not supported), or a Hugging
// Face repo "org/name[@revision]" / catalog version, downloaded into the Hub cache (hub_model.h).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "model/nn/device_names.h"
#include "model/pipeline/sd_model.h"
#include "runtime/hub_model.h"

namespace sdw {

class ModelSourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::shared_ptr<SdModel> load_model(const std::string& model, const ModelLoadOptions& options);

}  // namespace sdw
