// The weight of a Linear or Conv2d layer, held once: plain (the registered parameter) or, once the
// CPU fast path has packed it into oneDNN's blocked layout (layers.h), packed only. While packed the
// registered parameter `weight` is a placeholder on the meta device with the weight's shape and
// dtype, so names, shapes, dtypes and byte counts read as before; the plain weight is rebuilt from
// the packed one where it is needed (in-place writes such as LoRA fusing, device moves, state-dict
// reads) by `unpack()` or `unpack_weights(module)`, and the next product that pays for packing
// packs it again. Measured peaks and step times: docs/memory.md ("One copy of each weight").
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <mutex>

namespace sdw::nn {

class PackedLayer : public torch::nn::Module {
 public:
  // [out, in] (Linear) or [out, in, k, k] (Conv2d); a meta-device placeholder while packed. Read
  // it through `weights()` where another thread may pack the layer at the same time.
  at::Tensor weight;
  at::Tensor bias;  // [out] or undefined; never packed

  // The weight as one forward pass sees it: `plain` (the parameter: a placeholder while packed,
  // still with the right shape and dtype) and `packed` (undefined while plain), read together.
  struct Weights {
    at::Tensor plain;
    at::Tensor packed;
  };
  Weights weights() const;
  bool packed() const;
  // The packed weight of a product with this padding and stride, packing the plain weight on the
  // first call and then dropping it (the parameter becomes the placeholder).
  at::Tensor pack(int64_t padding, int64_t stride);
  // Back to the plain weight, rebuilt from the packed one (a no-op while plain). Call before
  // writing the weight in place or reading its values.
  void unpack();
  // Replaces the plain weight (and the bias, when `b` is given) by other tensors of the same
  // shapes and dtypes, e.g. views into a fused weight (fused_qkv.h); unpacks first.
  void replace_weights(const at::Tensor& w, const at::Tensor& b = {});
  // The plain values of `w` for one product: `w.plain`, or a temporary rebuilt from `w.packed`.
  static at::Tensor dense(const Weights& w);
  // Bytes the weight holds now: the plain storage, or the packed copy (with oneDNN's block padding,
  // an upper bound: packed_bytes_bound).
  int64_t weight_bytes_held() const;

  // Device and dtype moves unpack first (the packed copy is CPU-only).
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;

 private:
  mutable std::mutex mutex_;
  at::Tensor packed_;
};

// Upper bound of the bytes of a weight of `sizes` ([out, in] or [out, in, k, k]) packed by oneDNN:
// its blocked layouts pad the output channels to a multiple of 64 and the input channels to one of
// 32 at most (OIhw16i16o for fp32, OIhw16i16o2i for bf16 on AVX-512).
int64_t packed_bytes_bound(at::IntArrayRef sizes, int64_t element_size);

// Every packed layer under `module` back to its plain weight (before reading or writing parameter values).
void unpack_weights(torch::nn::Module& module);
// The weight bytes every Linear/Conv2d under `module` holds now (packed or plain), plus the plain
// bytes of its other parameters (norms, embeddings, biases).
int64_t held_parameter_bytes(const torch::nn::Module& module);
// How many layers under `module` are packed now.
int64_t packed_layer_count(const torch::nn::Module& module);

}  // namespace sdw::nn
