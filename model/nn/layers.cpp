// Leaf layers with PyTorch parameter names (see layers.h).
#include "model/nn/layers.h"

#include <atomic>
#include <stdexcept>

#include "model/nn/env_switch.h"
#include "model/nn/fp8_linear.h"
#include "model/nn/weight_stream.h"
#include "model/nn/winograd_conv.h"

namespace sdw::nn {
namespace {

// Products below which a Linear stays on at::linear: for a handful of rows (the time embedding,
// pooled text) or tiny layers (the test fixtures), oneDNN's per-call setup and weight reorder cost
// more than the product itself.
constexpr int64_t kOnednnMinRows = 16;
constexpr int64_t kOnednnMinMacs = int64_t{1} << 22;
// Rows (Linear) or output pixels (N * H' * W', Conv2d) up to which the prepacked weight is used.
constexpr int64_t kPrepackMaxRows = 256;

std::atomic<bool>& onednn_flag() {
  static std::atomic<bool> flag{at::hasMKLDNN() && env_switch("SDW_CPU_ONEDNN", true)};
  return flag;
}

std::atomic<bool>& prepack_flag() {
  static std::atomic<bool> flag{env_switch("SDW_CPU_PREPACK", true)};
  return flag;
}

}  // namespace

bool cpu_onednn_enabled() { return onednn_flag().load(std::memory_order_relaxed); }
void set_cpu_onednn(bool enabled) { onednn_flag().store(enabled && at::hasMKLDNN()); }
bool cpu_prepack_enabled() { return prepack_flag().load(std::memory_order_relaxed); }
void set_cpu_prepack(bool enabled) { prepack_flag().store(enabled); }

// Whether this CPU's oneDNN runs bf16 convolutions (avx512_bf16/AMX, or avx512 emulation); asked
// once by trying a 1x1 one (ATen throws where the CPU lacks the instructions it needs).
bool onednn_bf16_supported() {
  static const bool ok = [] {
    if (!at::hasMKLDNN()) return false;
    try {
      const auto o = at::TensorOptions().dtype(at::kBFloat16);
      at::mkldnn_convolution(at::ones({1, 1, 1, 1}, o), at::ones({1, 1, 1, 1}, o), {}, {0, 0}, {1, 1}, {1, 1}, 1);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }();
  return ok;
}

bool use_cpu_onednn_bf16(const at::Tensor& x, const at::Tensor& weight) {
  return cpu_onednn_enabled() && x.device().is_cpu() && weight.device().is_cpu() &&
         weight.scalar_type() == at::kBFloat16 && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) &&
         !x.is_mkldnn() && !x.requires_grad() && at::globalContext().userEnabledMkldnn() && onednn_bf16_supported();
}

bool use_cpu_onednn(const at::Tensor& t) {
  return cpu_onednn_enabled() && t.device().is_cpu() && t.scalar_type() == at::kFloat && !t.is_mkldnn() &&
         !t.requires_grad() && at::globalContext().userEnabledMkldnn();
}

at::Tensor onednn_mm(const at::Tensor& a, const at::Tensor& w, const at::Tensor& bias) {
  const int64_t m = a.size(0), k = a.size(1), n = w.size(0);
  // [M, K] rows are a channels-last [1, K, M, 1] image; the [1, N, M, 1] channels-last result is [M, N].
  at::Tensor out = at::mkldnn_convolution(a.view({1, m, 1, k}).permute({0, 3, 1, 2}),
                                          w.is_mkldnn() ? w : w.view({n, k, 1, 1}), bias, {0, 0}, {1, 1}, {1, 1}, 1);
  return out.permute({0, 2, 3, 1}).reshape({m, n});
}

namespace {

// Whether a product of `x` with a layer's weight `w` (its plain tensor or placeholder, `packed` when
// packed) runs through oneDNN: fp32 with fp32, or fp32/bf16 activations with bf16 weights (mixed).
bool onednn_product(const at::Tensor& x, const PackedLayer::Weights& w) {
  const bool weight_cpu = w.packed.defined() || w.plain.device().is_cpu();
  if (!cpu_onednn_enabled() || !weight_cpu || !x.device().is_cpu() || x.is_mkldnn() || x.requires_grad() ||
      !at::globalContext().userEnabledMkldnn())
    return false;
  if (w.plain.scalar_type() == at::kFloat) return x.scalar_type() == at::kFloat;
  return w.plain.scalar_type() == at::kBFloat16 && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) &&
         onednn_bf16_supported();
}

// bf16 weights on a CPU whose oneDNN has no bf16 kernels (onednn_bf16_supported() false: AVX2-only
// CPUs) are stored like fp16 ones (layers.h: fp32 activations, each product converting its weight):
// libtorch's own bf16 products there are emulated, far slower than fp32, and gave 7% of the output's
// magnitude against diffusers' fp32 UNet on the fixtures (test_unet) where converting gives the
// weights' bf16 rounding only, as on CPUs with bf16 kernels.
bool cpu_stored_weight(const at::Tensor& weight) {
  return weight.scalar_type() == at::kBFloat16 && weight.device().is_cpu() && !onednn_bf16_supported();
}

// fp16-stored (and bf16-stored, above) weights with fp32 activations: the weight converted for this product.
bool converts_weight(const at::Tensor& x, const at::Tensor& weight) {
  if (weight.scalar_type() == at::kHalf) return x.scalar_type() != at::kHalf;
  return x.scalar_type() == at::kFloat && cpu_stored_weight(weight);
}

// Sequential offload (weight_stream.h): a plain weight and bias held on another device than `x`
// are copied there for this call (on_device_of leaves them as they are when already there). A
// packed weight is CPU-only and only made by CPU products.
void stream_weights(PackedLayer::Weights& w, at::Tensor& b, const at::Tensor& x) {
  if (w.packed.defined()) return;
  w.plain = on_device_of(w.plain, x);
  b = on_device_of(b, x);
}

}  // namespace

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({out_features, in_features}, options), false);
  if (with_bias) bias = register_parameter("bias", at::empty({out_features}, options), false);
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
  if (fp8 && x.is_cuda()) return fp8_linear(x, *fp8, bias);  // [..., out]
  const int64_t k = x.size(-1);
  const int64_t rows = k > 0 ? x.numel() / k : 0;
  Weights w = weights();
  at::Tensor b = bias;
  stream_weights(w, b, x);
  const bool converted = converts_weight(x, w.plain);
  if (converted) {
    w = {w.plain.to(x.scalar_type()), at::Tensor()};  // [out, in] fp32 for this call only
    if (b.defined()) b = b.to(x.scalar_type());
  }
  const int64_t n = w.plain.size(0);
  const bool mixed = x.scalar_type() != w.plain.scalar_type();  // bf16 weights, fp32 activations
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = n;
  at::Tensor y;
  // The route depends on the product's size only, never on whether an earlier (larger) product
  // packed the weight: a small product after a large one gives the same result as before it.
  if (onednn_product(x, w) && rows >= kOnednnMinRows && (mixed || rows * k * n >= kOnednnMinMacs)) {
    at::Tensor wt = w.packed;
    if (!wt.defined() && prepack && cpu_prepack_enabled() && rows <= kPrepackMaxRows && w.plain.is_contiguous() &&
        w.plain.device().is_cpu() && !converted)
      wt = pack(0, 1);  // from now on the only copy
    if (!wt.defined()) wt = w.plain.contiguous();
    y = onednn_mm(x.reshape({rows, k}).to(w.plain.scalar_type()).contiguous(), wt, b).view(sizes);  // [..., out]
  } else {
    y = at::linear(x.to(w.plain.scalar_type()), dense(w), b);  // [..., out]
  }
  return y.scalar_type() == x.scalar_type() ? y : y.to(x.scalar_type());
}

Conv2dImpl::Conv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride, int64_t padding,
                       bool with_bias, const at::TensorOptions& options)
    : stride_(stride), padding_(padding) {
  weight = register_parameter("weight", at::empty({out_channels, in_channels, kernel_size, kernel_size}, options), false);
  if (with_bias) bias = register_parameter("bias", at::empty({out_channels}, options), false);
}

at::Tensor Conv2dImpl::forward(const at::Tensor& x) {
  Weights w = weights();
  at::Tensor b = bias;
  stream_weights(w, b, x);
  const bool converted = converts_weight(x, w.plain);
  if (converted) {
    w = {w.plain.to(x.scalar_type()), at::Tensor()};  // [Cout, Cin, k, k] fp32 for this call only
    if (b.defined()) b = b.to(x.scalar_type());
  }
  const at::ScalarType wtype = w.plain.scalar_type();
  const bool mixed = x.scalar_type() != wtype;  // bf16 weights, fp32 activations (see layers.h)
  if (winograd_conv_eligible(x, w.plain, padding_, stride_)) {
    // A weight packed by an earlier small product (e.g. a tiled decode) is rebuilt for this call,
    // so a size always takes the same path (and gives the same result).
    at::Tensor y = winograd_conv2d(x, w.packed.defined() ? dense(w) : w.plain, b);  // [N, O, H, W]
    if (y.defined()) return y;
  }
  at::Tensor y;
  if (x.dim() == 4 && onednn_product(x, w)) {
    // at::conv2d would pick oneDNN too, except for 1x1 kernels with one intra-op thread (im2col + BLAS).
    // Mixed bf16 runs on contiguous (NCHW) inputs, as the packed weights do.
    const auto format = mixed ? at::MemoryFormat::Contiguous : x.suggest_memory_format();
    const int64_t k = w.plain.size(2);
    const int64_t pixels =
        x.size(0) * ((x.size(2) + 2 * padding_ - k) / stride_ + 1) * ((x.size(3) + 2 * padding_ - k) / stride_ + 1);
    at::Tensor wt;
    if (format == at::MemoryFormat::Contiguous) {
      wt = w.packed;
      // bf16 convolution weights are always packed; fp32 ones for small outputs.
      if (!wt.defined() && cpu_prepack_enabled() && (mixed || pixels <= kPrepackMaxRows) && w.plain.is_contiguous() &&
          w.plain.device().is_cpu() && !converted)
        wt = pack(padding_, stride_);  // from now on the only copy
    }
    if (!wt.defined()) wt = w.packed.defined() ? dense(w) : mixed ? w.plain.contiguous() : w.plain;
    y = at::mkldnn_convolution(x.to(wtype).contiguous(format), wt, b, {padding_, padding_}, {stride_, stride_}, {1, 1},
                               1);
  } else {
    y = at::conv2d(x.to(wtype), dense(w), b, {stride_, stride_}, {padding_, padding_});
  }
  return y.scalar_type() == x.scalar_type() ? y : y.to(x.scalar_type());
}

GroupNormImpl::GroupNormImpl(int64_t num_groups, int64_t num_channels, double eps, const at::TensorOptions& options)
    : num_groups_(num_groups), eps_(eps) {
  if (num_channels % num_groups != 0)
    throw std::invalid_argument("GroupNorm: " + std::to_string(num_channels) + " channels not divisible by " +
                                std::to_string(num_groups) + " groups");
  weight = register_parameter("weight", at::empty({num_channels}, options), false);
  bias = register_parameter("bias", at::empty({num_channels}, options), false);
}

at::Tensor GroupNormImpl::forward(const at::Tensor& x) {
  const at::Tensor w = on_device_of(weight, x), b = on_device_of(bias, x);  // (sequential offload)
  if (x.scalar_type() != w.scalar_type())  // bf16 weights, fp32 activations: normalise in x's dtype
    return at::group_norm(x, num_groups_, w.to(x.scalar_type()), b.to(x.scalar_type()), eps_);
  return at::group_norm(x, num_groups_, w, b, eps_);
}

LayerNormImpl::LayerNormImpl(int64_t dim, double eps, const at::TensorOptions& options, bool affine)
    : dim_(dim), eps_(eps) {
  if (affine) {
    weight = register_parameter("weight", at::empty({dim}, options), false);
    bias = register_parameter("bias", at::empty({dim}, options), false);
  }
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) {
  const at::Tensor w = on_device_of(weight, x), b = on_device_of(bias, x);  // (sequential offload)
  if (w.defined() && x.scalar_type() != w.scalar_type())
    return at::layer_norm(x, {dim_}, w.to(x.scalar_type()), b.to(x.scalar_type()), eps_);
  return at::layer_norm(x, {dim_}, w, b, eps_);
}

EmbeddingImpl::EmbeddingImpl(int64_t num_embeddings, int64_t dim, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({num_embeddings, dim}, options), false);
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) {
  if ((weight.scalar_type() == at::kHalf || cpu_stored_weight(weight)) && weight.device().is_cpu() &&
      ids.device().is_cpu())  // fp16- or bf16-stored on the CPU: fp32 activations
    return at::embedding(weight, ids).to(at::kFloat);
  return at::embedding(on_device_of(weight, ids), ids);  // (sequential offload: the table to the ids' device)
}

at::Tensor activation(const std::string& name, const at::Tensor& x) {
  if (name == "silu" || name == "swish") return at::silu(x);
  if (name == "gelu") return at::gelu(x);
  if (name == "quick_gelu") return x * at::sigmoid(1.702 * x);
  if (name == "gelu_tanh" || name == "gelu_pytorch_tanh" || name == "gelu_new") return at::gelu(x, "tanh");
  if (name == "relu") return at::relu(x);
  throw std::invalid_argument("unknown activation function '" + name + "'");
}

at::Tensor activation_(const std::string& name, at::Tensor x) {
  if (name == "silu" || name == "swish") return at::silu_(x);
  if (name == "relu") return at::relu_(x);
  return activation(name, x);
}

}  // namespace sdw::nn
