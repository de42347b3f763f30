// Strict load by name (see state_dict.h).
#include "model/loading/state_dict.h"

#include <ATen/core/grad_mode.h>

#include <sstream>

#include "model/nn/packed_layer.h"
#include "model/safetensors/mapped_pages.h"

namespace sdw {
namespace {

std::string shape_str(at::IntArrayRef s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> module_tensor_shapes(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  for (const auto& p : module.named_parameters(true)) out.emplace_back(p.key(), p.value().sizes().vec());
  for (const auto& b : module.named_buffers(true)) out.emplace_back(b.key(), b.value().sizes().vec());
  return out;
}

void load_state_dict(torch::nn::Module& module, const std::map<std::string, at::Tensor>& tensors,
                     const LoadOptions& options) {
  nn::unpack_weights(module);  // the plain weights of layers packed by a forward pass (nn/packed_layer.h)
  std::map<std::string, at::Tensor> targets;
  for (const auto& p : module.named_parameters(true)) targets.emplace(p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) targets.emplace(b.key(), b.value());

  std::vector<std::string> problems;
  for (const auto& kv : targets) {
    auto it = tensors.find(kv.first);
    if (it == tensors.end()) {
      problems.push_back("missing tensor '" + kv.first + "' (expected shape " + shape_str(kv.second.sizes()) + ")");
    } else if (it->second.sizes() != kv.second.sizes()) {
      problems.push_back("tensor '" + kv.first + "' has shape " + shape_str(it->second.sizes()) + " but the model needs " +
                         shape_str(kv.second.sizes()));
    }
  }
  for (const auto& kv : tensors) {
    if (targets.count(kv.first)) continue;
    if (options.ignore_unexpected && options.ignore_unexpected(kv.first)) continue;
    problems.push_back("unexpected tensor '" + kv.first + "' " + shape_str(kv.second.sizes()));
  }
  if (!problems.empty()) {
    std::ostringstream os;
    os << "cannot load " << options.what << ": " << problems.size() << " problem(s): ";
    const size_t shown = std::min<size_t>(problems.size(), 20);
    for (size_t i = 0; i < shown; ++i) os << (i ? "; " : "") << problems[i];
    if (shown < problems.size()) os << "; ... and " << (problems.size() - shown) << " more";
    throw LoadError(os.str());
  }
  at::NoGradGuard no_grad;
  for (auto& kv : targets) {
    const at::Tensor& src = tensors.at(kv.first);
    kv.second.copy_(src);  // copy_ converts dtype (fp16/bf16 -> fp32, ...) and device
    // The file's pages of this tensor leave the RSS now, not when the whole component is loaded.
    release_mapped_pages(src);
  }
}

}  // namespace sdw
