// Leaf layers (Linear, Conv2d, GroupNorm, LayerNorm, Embedding) with PyTorch's parameter names.
// Unlike torch::nn's, they allocate their parameters uninitialised with the given options (dtype,
// device, or the meta device) and never run an initialiser: weights always come from a checkpoint
// (or from `init_demo_weights`), so building a full-size model costs no compute and, until the
// weights are written, no resident memory.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace sdw::nn {

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [..., in] -> [..., out]
  at::Tensor weight;                        // [out, in]
  at::Tensor bias;                          // [out] or undefined
};
TORCH_MODULE(Linear);

class Conv2dImpl : public torch::nn::Module {
 public:
  Conv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride, int64_t padding,
             bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [N, Cin, H, W] -> [N, Cout, H', W']
  at::Tensor weight;                        // [Cout, Cin, k, k]
  at::Tensor bias;                          // [Cout]
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

}  // namespace sdw::nn
