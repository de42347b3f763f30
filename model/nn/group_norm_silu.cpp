// Fused GroupNorm + SiLU on the CPU (see group_norm_silu.h).
#include "model/nn/group_norm_silu.h"

#include <ATen/Config.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <vector>

#include "model/nn/env_switch.h"
#include "model/nn/softmax_rows.h"

// at::parallel_for's body is compiled here (model/CMakeLists.txt builds this file with OpenMP
// beside cpu_attention.cpp; without it every group would run on one thread).
#if defined(SDW_WITH_DNNL) && AT_PARALLEL_OPENMP && !defined(_OPENMP)
#error "group_norm_silu.cpp must be compiled with OpenMP (at::parallel_for would run on one thread)"
#endif

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12 flags the AVX-512 intrinsics' own _mm512_undefined_ps() operands as uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#define SDW_NORM_AVX512 1
#include "model/nn/exp_avx512.h"
#endif

namespace sdw::nn {
namespace {

std::atomic<bool>& fused_flag() {
  static std::atomic<bool> flag{env_switch("SDW_CPU_FUSED_NORM", true)};
  return flag;
}

#if defined(SDW_NORM_AVX512)
// sum(x - shift) and sum((x - shift)^2) over n floats, in double (float partial sums over 256
// elements at most). Called with shift 0 for the mean, then with the mean: the centred second
// pass keeps the variance exact where the mean is large against the spread (E[x^2] - mean^2
// would cancel), and the group is still in cache (4 MiB for the VAE's largest).
__attribute__((target("avx512f"))) void moments(const float* x, int64_t n, float shift, double& sum, double& sq) {
  constexpr int64_t kChunk = 256;
  const __m512 vshift = _mm512_set1_ps(shift);
  sum = 0, sq = 0;
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t len = std::min(kChunk, n - c0);
    const int64_t full = len / 16 * 16;
    __m512 s = _mm512_setzero_ps(), q = _mm512_setzero_ps();
    for (int64_t j = 0; j < full; j += 16) {
      const __m512 v = _mm512_sub_ps(_mm512_loadu_ps(x + c0 + j), vshift);
      s = _mm512_add_ps(s, v);
      q = _mm512_fmadd_ps(v, v, q);
    }
    alignas(64) float ls[16], lq[16];
    _mm512_store_ps(ls, s);
    _mm512_store_ps(lq, q);
    double cs = 0, cq = 0;
    for (int i = 0; i < 16; ++i) cs += ls[i], cq += lq[i];
    for (int64_t j = full; j < len; ++j) {
      const double v = static_cast<double>(x[c0 + j]) - shift;
      cs += v, cq += v * v;
    }
    sum += cs, sq += cq;
  }
}

// silu(v * scale + shift) on 16 floats: sigmoid(y) = 1 / (1 + e^-|y|) for y >= 0, else
// e^-|y| / (1 + e^-|y|), so exp only sees arguments <= 0.
__attribute__((target("avx512f"))) inline __m512 affine_silu16(__m512 v, __m512 scale, __m512 shift) {
  const __m512 y = _mm512_fmadd_ps(v, scale, shift);
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  const __m512 e = exp_avx512(_mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(y), sign)));  // e^-|y|
  const __m512 one = _mm512_set1_ps(1.0f);
  const __mmask16 negative = _mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mul_ps(y, _mm512_div_ps(_mm512_mask_blend_ps(negative, one, e), _mm512_add_ps(one, e)));
}

// out = silu(x * scale + shift) over n floats.
__attribute__((target("avx512f"))) void affine_silu(const float* x, float* out, int64_t n, float scale, float shift) {
  const __m512 vs = _mm512_set1_ps(scale), vb = _mm512_set1_ps(shift);
  const int64_t full = n / 16 * 16;
  for (int64_t j = 0; j < full; j += 16) _mm512_storeu_ps(out + j, affine_silu16(_mm512_loadu_ps(x + j), vs, vb));
  if (full < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - full)) - 1u);
    _mm512_mask_storeu_ps(out + full, tail, affine_silu16(_mm512_maskz_loadu_ps(tail, x + full), vs, vb));
  }
}
#endif

}  // namespace

bool cpu_fused_norm_enabled() { return exp_rows_vectorised() && fused_flag().load(std::memory_order_relaxed); }
void set_cpu_fused_norm(bool enabled) { fused_flag().store(enabled); }

at::Tensor cpu_group_norm_silu(const at::Tensor& x, int64_t groups, const at::Tensor& weight, const at::Tensor& bias,
                               double eps, bool in_place) {
#if defined(SDW_NORM_AVX512)
  if (!exp_rows_vectorised() || !x.device().is_cpu() || x.scalar_type() != at::kFloat || x.dim() < 2 || !x.is_contiguous() ||
      groups <= 0 || x.size(1) % groups != 0 || !weight.defined() || !bias.defined() ||
      weight.scalar_type() != at::kFloat || bias.scalar_type() != at::kFloat || x.requires_grad())
    return {};
  RECORD_FUNCTION("sdw::group_norm_silu", std::vector<c10::IValue>({x}));
  const int64_t n = x.size(0), c = x.size(1), per_group = c / groups;
  const int64_t hw = c > 0 && n > 0 ? x.numel() / (n * c) : 0;
  at::Tensor out = in_place ? x : at::empty_like(x);  // [N, C, ...]
  if (x.numel() == 0) return out;
  const at::Tensor w = weight.contiguous(), b = bias.contiguous();
  const float* xp = x.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const float* bp = b.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, n * groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t c0 = t % groups * per_group;
      const int64_t offset = (t / groups * c + c0) * hw;  // this (image, group)'s first element
      const int64_t len = per_group * hw;
      double sum = 0, sq = 0;
      moments(xp + offset, len, 0.0f, sum, sq);
      const auto m0 = static_cast<float>(sum / static_cast<double>(len));
      moments(xp + offset, len, m0, sum, sq);  // centred on the float mean
      const double d = sum / static_cast<double>(len);
      const double mean = m0 + d;
      const double var = std::max(0.0, sq / static_cast<double>(len) - d * d);
      const double rstd = 1.0 / std::sqrt(var + eps);
      for (int64_t ch = 0; ch < per_group; ++ch) {
        const double scale = rstd * wp[c0 + ch];
        const double shift = bp[c0 + ch] - mean * scale;
        affine_silu(xp + offset + ch * hw, op + offset + ch * hw, hw, static_cast<float>(scale),
                    static_cast<float>(shift));
      }
    }
  });
  return out;
#else
  (void)x, (void)groups, (void)weight, (void)bias, (void)eps, (void)in_place;
  return {};
#endif
}

namespace {

at::Tensor fused_or_pair(GroupNorm& norm, const std::string& act, const at::Tensor& x, bool in_place) {
  if ((act == "silu" || act == "swish") && cpu_fused_norm_enabled() && x.device().is_cpu() &&
      x.scalar_type() == at::kFloat && norm->weight.scalar_type() == at::kFloat) {
    at::Tensor y = cpu_group_norm_silu(x, norm->num_groups_, norm->weight, norm->bias, norm->eps_, in_place);
    if (y.defined()) return y;
  }
  return activation_(act, norm->forward(x));
}

}  // namespace

at::Tensor norm_activation(GroupNorm& norm, const std::string& act, const at::Tensor& x) {
  return fused_or_pair(norm, act, x, false);
}

at::Tensor norm_activation_(GroupNorm& norm, const std::string& act, const at::Tensor& x) {
  return fused_or_pair(norm, act, x, true);
}

}  // namespace sdw::nn
