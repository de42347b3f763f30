// Strict loading of named tensors into a module tree: every parameter must be present with its
// exact shape; unexpected tensors are errors unless the caller lists them as ignorable.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sdw {

class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// name -> shape of every parameter and buffer, in registration order.
std::vector<std::pair<std::string, std::vector<int64_t>>> module_tensor_shapes(const torch::nn::Module& module);

struct LoadOptions {
  // Tensors in the source that the model does not have and that are fine to skip
  // (e.g. `text_model.embeddings.position_ids` in older transformers files).
  std::function<bool(const std::string&)> ignore_unexpected;
  std::string what = "model";  // used in messages
};

// Copies `tensors` into the module's parameters/buffers by name, converting dtype and device.
// Throws LoadError naming the tensor (and both shapes) for missing, unexpected or mismatched ones;
// all problems are listed in one message.
void load_state_dict(torch::nn::Module& module, const std::map<std::string, at::Tensor>& tensors,
                     const LoadOptions& options = {});

}  // namespace sdw
