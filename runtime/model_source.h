// Turns what a user passes as --model into a loaded SdModel: "demo" (or nothing), a diffusers
// folder, or a single checkpoint file (refused with a clear reason where not supported).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "model/pipeline/sd_model.h"

namespace sdw {

class ModelSourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "cpu", "cuda", "cuda:N", "mps" -> a device available in this build; throws ModelSourceError otherwise.
at::Device parse_device(const std::string& text);
// "fp32"/"float32", "fp16"/"float16"/"half", "bf16"/"bfloat16".
at::ScalarType parse_dtype(const std::string& text);
const char* dtype_name(at::ScalarType type);

std::shared_ptr<SdModel> load_model(const std::string& model, const ModelLoadOptions& options);

}  // namespace sdw
