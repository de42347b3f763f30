// One copy of a layer's weight, plain or packed (see packed_layer.h).
#include "model/nn/packed_layer.h"

#include <ATen/core/LegacyTypeDispatch.h>
#include <c10/core/InferenceMode.h>
#include <malloc.h>

namespace sdw::nn {
namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// The weight as a 4-D [out, in, k, k] tensor (a Linear's [out, in] as a 1x1 convolution's).
at::Tensor as_conv_weight(const at::Tensor& w) { return w.dim() == 2 ? w.view({w.size(0), w.size(1), 1, 1}) : w; }

}  // namespace

PackedLayer::Weights PackedLayer::weights() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {weight, packed_};
}

bool PackedLayer::packed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return packed_.defined();
}

at::Tensor PackedLayer::pack(int64_t padding, int64_t stride) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (packed_.defined()) return packed_;
    // Made outside inference mode, so the placeholder and a later unpacked weight are ordinary
    // tensors, and below autograd, where oneDNN tensors may be read.
    c10::InferenceMode normal(false);
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    packed_ = at::mkldnn_reorder_conv2d_weight(as_conv_weight(weight).contiguous().to_mkldnn(), {padding, padding},
                                               {stride, stride}, {1, 1}, 1);
    // The plain weight goes: the parameter (and this member) become a placeholder of its shape and dtype.
    weight = at::empty(weight.sizes(), weight.options().device(at::kMeta));
    parameters_["weight"] = weight;
  }
  // The plain weight and oneDNN's intermediate copy went back to malloc; weights under glibc's
  // mmap threshold (up to 32 MB) leave holes in its heap that the RSS keeps until trimmed
  // (SD1.5 fp32 at 256x256 peaked at 5.02 GiB without this trim; docs/memory.md).
  ::malloc_trim(0);
  return weights().packed;
}

void PackedLayer::unpack() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!packed_.defined()) return;
  c10::InferenceMode normal(false);  // (as in pack)
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  weight = packed_.to_dense().view(weight.sizes());  // [out, in(, k, k)]
  parameters_["weight"] = weight;
  packed_ = at::Tensor();
}

void PackedLayer::replace_weights(const at::Tensor& w, const at::Tensor& b) {
  unpack();
  std::lock_guard<std::mutex> lock(mutex_);
  TORCH_CHECK(w.sizes() == weight.sizes() && w.scalar_type() == weight.scalar_type(), "replace_weights: weight ",
              w.sizes(), " ", w.scalar_type(), " for ", weight.sizes(), " ", weight.scalar_type());
  weight = w;
  parameters_["weight"] = w;
  if (!b.defined()) return;
  TORCH_CHECK(bias.defined() && b.sizes() == bias.sizes() && b.scalar_type() == bias.scalar_type(),
              "replace_weights: a bias that does not fit");
  bias = b;
  parameters_["bias"] = b;
}

at::Tensor PackedLayer::dense(const Weights& w) {
  if (!w.packed.defined()) return w.plain;
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return w.packed.to_dense().view(w.plain.sizes());
}

int64_t PackedLayer::weight_bytes_held() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (packed_.defined()) return packed_bytes_bound(weight.sizes(), static_cast<int64_t>(weight.element_size()));
  return static_cast<int64_t>(weight.numel() * weight.element_size());  // a view (fused_qkv.h): its own part
}

void PackedLayer::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  unpack();
  torch::nn::Module::to(device, dtype, non_blocking);
  weight = parameters_["weight"];
}

void PackedLayer::to(torch::Dtype dtype, bool non_blocking) {
  unpack();
  torch::nn::Module::to(dtype, non_blocking);
  weight = parameters_["weight"];
}

void PackedLayer::to(torch::Device device, bool non_blocking) {
  unpack();
  torch::nn::Module::to(device, non_blocking);
  weight = parameters_["weight"];
}

int64_t packed_bytes_bound(at::IntArrayRef sizes, int64_t element_size) {
  int64_t n = round_up(sizes[0], 64) * round_up(sizes[1], 32) * element_size;
  for (size_t i = 2; i < sizes.size(); ++i) n *= sizes[i];
  return n;
}

void unpack_weights(torch::nn::Module& module) {
  for (const auto& m : module.modules(/*include_self=*/true))
    if (auto layer = std::dynamic_pointer_cast<PackedLayer>(m)) layer->unpack();
}

int64_t held_parameter_bytes(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& m : module.modules(/*include_self=*/true)) {
    const auto layer = std::dynamic_pointer_cast<PackedLayer>(m);
    for (const auto& p : m->named_parameters(/*recurse=*/false)) {
      if (layer && p.key() == "weight")
        n += layer->weight_bytes_held();
      else
        n += static_cast<int64_t>(p.value().numel() * p.value().element_size());
    }
  }
  return n;
}

int64_t packed_layer_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& m : module.modules(/*include_self=*/true))
    if (auto layer = std::dynamic_pointer_cast<PackedLayer>(m)) n += layer->packed() ? 1 : 0;
  return n;
}

}  // namespace sdw::nn
