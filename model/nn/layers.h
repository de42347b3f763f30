// Leaf layers (Linear, Conv2d, GroupNorm, LayerNorm, Embedding) with PyTorch's parameter names.
// Unlike torch::nn's, they allocate their parameters uninitialised with the given options (dtype,
// device, or the meta device) and never run an initialiser: weights always come from a checkpoint
// (or from `init_demo_weights`), so building a full-size model costs no compute and, until the
// weights are written, no resident memory.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <memory>

#include "model/nn/packed_layer.h"

namespace sdw::nn {

struct Fp8Weight;  // fp8_linear.h

// CPU fast paths. Debian's libtorch 1.13 sends fp32 matrix products to the system BLAS, which can
// be slow (OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to SSE3 kernels at ~15
// GFLOP/s), and 1x1 convolutions with one intra-op thread to an im2col + BLAS path. oneDNN (linked
// into every libtorch with USE_MKLDNN) picks its kernels by CPUID and runs 5-8x faster here.
// When enabled (the default where libtorch has oneDNN; `SDW_CPU_ONEDNN=0` or
// `set_cpu_onednn(false)` turns it off), fp32 CPU Linear, Conv2d and attention go through
// oneDNN convolutions: a matrix product [M, K] x [N, K]^T is a 1x1 convolution over a
// channels-last [1, K, M, 1] view of the [M, K] rows, so no data moves. Results match the BLAS
// path to float32 rounding (the parity tests stay at 1-3e-6 max |diff|, as before).
//
// Mixed bf16 on the CPU: a model loaded in bf16 for the CPU keeps its activations in fp32 (see
// SdModel::activation_dtype): Linear and Conv2d then cast their input to bf16, run the product
// through oneDNN's bf16 kernels (AMX or avx512_bf16 where the CPU has them: 4-8x the fp32 speed
// for the UNet's convolutions; bf16 convolution weights are always prepacked) and return fp32;
// norms use their bf16 weights cast to fp32. Everything between the products (norms, softmax,
// GELU, residual adds) stays fp32, where libtorch 1.13's CPU kernels are fast and bf16's are not
// (group_norm 12x, gelu and softmax several times slower in bf16).
bool cpu_onednn_enabled();
void set_cpu_onednn(bool enabled);
// True when `t` can take the oneDNN path (fp32, CPU, no autograd, fast path enabled).
bool use_cpu_onednn(const at::Tensor& t);
// True when oneDNN runs bf16 products on this CPU (probed once).
bool onednn_bf16_supported();
// True when a product of `x` (fp32 or bf16) with the bf16 `weight` can take oneDNN's bf16 path.
bool use_cpu_onednn_bf16(const at::Tensor& x, const at::Tensor& weight);
// a [M, K] x w [N, K]^T (+ bias [N]) -> [M, N] through oneDNN; `a` and `w` contiguous (`w` may
// also be the packed weight of the [N, K, 1, 1] view, PackedLayer::pack).
at::Tensor onednn_mm(const at::Tensor& a, const at::Tensor& w, const at::Tensor& bias = {});

// Weights prepacked into oneDNN's blocked layout (packed_layer.h): a Linear or Conv2d packs its
// weight on its first product with a small input (<= 256 rows or output pixels: the UNet's
// 1280-channel levels and the cross-attention keys/values), where reordering a 6-120 MB weight on
// every call costs more than the product itself (1.5-4x faster for those layers), and from then on
// runs every product on the packed weight. The packed weight replaces the plain one (one copy in
// memory). On by default with the oneDNN path; `SDW_CPU_PREPACK=0` or `set_cpu_prepack(false)`
// turns it off for layers not packed yet.
//
// fp16-stored weights on the CPU (`--dtype fp16` there): the weights stay fp16 (half the memory)
// and the activations fp32 (SdModel::activation_dtype); each Linear and Conv2d call converts its
// weight to fp32 for that one product (this CPU family has avx512_bf16 but no avx512_fp16, so
// oneDNN has no f16 kernels to use), norms and embeddings cast theirs to fp32.
bool cpu_prepack_enabled();
void set_cpu_prepack(bool enabled);

class LinearImpl : public PackedLayer {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [..., in] -> [..., out]
  // weight [out, in], bias [out] or undefined (PackedLayer)
  // false: never packed, for a weight other layers' parameters are views of (fused_qkv.h).
  bool prepack = true;
  // `--dtype fp8` (fp8_linear.h): the weight's fp8 copy; CUDA inputs then go through _scaled_mm.
  std::shared_ptr<Fp8Weight> fp8;
};
TORCH_MODULE(Linear);

class Conv2dImpl : public PackedLayer {
 public:
  Conv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride, int64_t padding,
             bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [N, Cin, H, W] -> [N, Cout, H', W']
  // weight [Cout, Cin, k, k], bias [Cout] (PackedLayer)
  int64_t stride_;
  int64_t padding_;
};
TORCH_MODULE(Conv2d);

class GroupNormImpl : public torch::nn::Module {
 public:
  GroupNormImpl(int64_t num_groups, int64_t num_channels, double eps, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [N, C, ...]
  at::Tensor weight;                        // [C]
  at::Tensor bias;                          // [C]
  int64_t num_groups_;
  double eps_;
};
TORCH_MODULE(GroupNorm);

class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t dim, double eps, const at::TensorOptions& options, bool affine = true);
  at::Tensor forward(const at::Tensor& x);  // [..., dim]
  at::Tensor weight;                        // [dim]
  at::Tensor bias;                          // [dim]
  int64_t dim_;
  double eps_;
};
TORCH_MODULE(LayerNorm);

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& ids);  // [...] int64 -> [..., dim]
  at::Tensor weight;                          // [num, dim]
};
TORCH_MODULE(Embedding);

// Activations by their diffusers/transformers config names: "silu"/"swish", "gelu",
// "quick_gelu", "gelu_tanh"/"gelu_pytorch_tanh", "relu". Throws std::invalid_argument otherwise.
at::Tensor activation(const std::string& name, const at::Tensor& x);
// The same, in place on `x` where the activation has an in-place kernel (silu, relu); returns the result.
at::Tensor activation_(const std::string& name, at::Tensor x);

}  // namespace sdw::nn
