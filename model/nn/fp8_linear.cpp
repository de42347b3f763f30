// fp8 products for Linear layers (see fp8_linear.h). Compiled with SDW_WITH_FP8 only where the
// configure-time check found fp8 tensors and the 8-argument at::_scaled_mm in libtorch.
#include "model/nn/fp8_linear.h"

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/nn/layers.h"

namespace sdw::nn {

#if SDW_WITH_FP8

namespace {

constexpr double kE4m3Max = 448.0;  // the largest float8_e4m3fn value

// [] float32 scale mapping |t|'s largest value to 448 (at least a tiny positive number).
at::Tensor scale_of(const at::Tensor& t) { return (t.abs().amax().to(at::kFloat) / kE4m3Max).clamp_min(1e-12); }

// t / scale in float8_e4m3fn (clamped: a cast beyond 448 would not saturate).
at::Tensor to_fp8(const at::Tensor& t, const at::Tensor& scale) {
  return (t / scale).clamp_(-kE4m3Max, kE4m3Max).to(at::kFloat8_e4m3fn);
}

}  // namespace

bool fp8_compiled() { return true; }

Fp8Weight quantize_fp8(const at::Tensor& w) {
  const at::Tensor w32 = w.to(at::kFloat);  // [out, in]
  const at::Tensor scale = scale_of(w32);
  return {to_fp8(w32, scale).contiguous(), scale};
}

at::Tensor fp8_linear(const at::Tensor& x, const Fp8Weight& w, const at::Tensor& bias) {
  const int64_t k = x.size(-1);
  const at::Tensor rows = x.reshape({-1, k});  // [M, K]
  const at::Tensor x_scale = scale_of(rows);
  at::Tensor y = at::_scaled_mm(to_fp8(rows, x_scale), w.q.t(), x_scale, w.scale, std::nullopt, std::nullopt,
                                x.scalar_type(), false);  // [M, N]
  if (bias.defined()) y.add_(bias);
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = w.q.size(0);
  return y.view(sizes);  // [..., N]
}

#else

namespace {
const char* const kNoFp8 =
    "--dtype fp8 needs fp8 matmuls (at::_scaled_mm, PyTorch 2.4 or newer); this build's libtorch has none";
}  // namespace

bool fp8_compiled() { return false; }

Fp8Weight quantize_fp8(const at::Tensor&) { throw std::invalid_argument(kNoFp8); }

at::Tensor fp8_linear(const at::Tensor&, const Fp8Weight&, const at::Tensor&) { throw std::invalid_argument(kNoFp8); }

#endif

int64_t quantize_linears_fp8(torch::nn::Module& module) {
  if (!fp8_compiled()) quantize_fp8(at::Tensor());  // throws the message above
  std::vector<LinearImpl*> layers;
  for (const auto& m : module.modules())
    if (auto* linear = dynamic_cast<LinearImpl*>(m.get())) {
      const at::Tensor w = linear->weights().plain;
      if (w.is_cuda() && w.size(0) % 16 == 0 && w.size(1) % 16 == 0) layers.push_back(linear);
    }
  if (layers.empty()) throw std::invalid_argument("--dtype fp8: no Linear layer on a CUDA device to run in fp8");
  try {  // one small product: GPUs without fp8 tensor cores (before sm_89) refuse here, not mid-job
    const auto opts = layers.front()->weights().plain.options();
    fp8_linear(at::ones({16, 16}, opts), quantize_fp8(at::ones({16, 16}, opts)), at::Tensor());
  } catch (const c10::Error& e) {
    throw std::invalid_argument(std::string("--dtype fp8: this GPU does not run fp8 matmuls (sm_89 or newer: L4, "
                                            "H100, H200): ") + e.what_without_backtrace());
  }
  for (LinearImpl* linear : layers) linear->fp8 = std::make_shared<Fp8Weight>(quantize_fp8(linear->weights().plain));
  return static_cast<int64_t>(layers.size());
}

}  // namespace sdw::nn
