// Leaf layers with PyTorch parameter names (see layers.h).
#include "model/nn/layers.h"

#include <stdexcept>

namespace sdw::nn {

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({out_features, in_features}, options), false);
  if (with_bias) bias = register_parameter("bias", at::empty({out_features}, options), false);
}

at::Tensor LinearImpl::forward(const at::Tensor& x) { return at::linear(x, weight, bias); }

Conv2dImpl::Conv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride, int64_t padding,
                       bool with_bias, const at::TensorOptions& options)
    : stride_(stride), padding_(padding) {
  weight = register_parameter("weight", at::empty({out_channels, in_channels, kernel_size, kernel_size}, options), false);
  if (with_bias) bias = register_parameter("bias", at::empty({out_channels}, options), false);
}

at::Tensor Conv2dImpl::forward(const at::Tensor& x) {
  return at::conv2d(x, weight, bias, {stride_, stride_}, {padding_, padding_});
}

GroupNormImpl::GroupNormImpl(int64_t num_groups, int64_t num_channels, double eps, const at::TensorOptions& options)
    : num_groups_(num_groups), eps_(eps) {
  if (num_channels % num_groups != 0)
    throw std::invalid_argument("GroupNorm: " + std::to_string(num_channels) + " channels not divisible by " +
                                std::to_string(num_groups) + " groups");
  weight = register_parameter("weight", at::empty({num_channels}, options), false);
  bias = register_parameter("bias", at::empty({num_channels}, options), false);
}

at::Tensor GroupNormImpl::forward(const at::Tensor& x) { return at::group_norm(x, num_groups_, weight, bias, eps_); }

LayerNormImpl::LayerNormImpl(int64_t dim, double eps, const at::TensorOptions& options, bool affine)
    : dim_(dim), eps_(eps) {
  if (affine) {
    weight = register_parameter("weight", at::empty({dim}, options), false);
    bias = register_parameter("bias", at::empty({dim}, options), false);
  }
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) { return at::layer_norm(x, {dim_}, weight, bias, eps_); }

EmbeddingImpl::EmbeddingImpl(int64_t num_embeddings, int64_t dim, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({num_embeddings, dim}, options), false);
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids); }

at::Tensor activation(const std::string& name, const at::Tensor& x) {
  if (name == "silu" || name == "swish") return at::silu(x);
  if (name == "gelu") return at::gelu(x);
  if (name == "quick_gelu") return x * at::sigmoid(1.702 * x);
  if (name == "gelu_tanh" || name == "gelu_pytorch_tanh" || name == "gelu_new") return at::gelu(x, "tanh");
  if (name == "relu") return at::relu(x);
  throw std::invalid_argument("unknown activation function '" + name + "'");
}

}  // namespace sdw::nn
