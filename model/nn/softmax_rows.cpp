// Unnormalised softmax rows (see softmax_rows.h).
#include "model/nn/softmax_rows.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12 flags the AVX-512 intrinsics' own _mm512_undefined_ps() operands as uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#define SDW_SOFTMAX_AVX512 1
#include "model/nn/exp_avx512.h"
#endif

namespace sdw::nn {
namespace {

float exp_shifted_scalar(const float* in, float* out, int64_t n) {
  const float m = *std::max_element(in, in + n);
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) sum += (out[j] = std::exp(in[j] - m));
  return sum;
}

#if defined(SDW_SOFTMAX_AVX512)
// Horizontal max / sum of 16 lanes (GCC 12's _mm512_reduce_* warn about their own temporaries).
__attribute__((target("avx512f"))) inline float lanes_max(__m512 v) {
  alignas(64) float lane[16];
  _mm512_store_ps(lane, v);
  return *std::max_element(lane, lane + 16);
}
__attribute__((target("avx512f"))) inline float lanes_sum(__m512 v) {
  alignas(64) float lane[16];
  _mm512_store_ps(lane, v);
  float s = 0.0f;
  for (float x : lane) s += x;
  return s;
}

__attribute__((target("avx512f"))) float exp_shifted_avx512(const float* in, float* out, int64_t n) {
  const int64_t full = n / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - full)) - 1u);
  const __m512 lowest = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 mv = lowest;
  for (int64_t j = 0; j < full; j += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(in + j));
  if (tail) mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(lowest, tail, in + full));
  const float m = lanes_max(mv);
  const __m512 shift = _mm512_set1_ps(m);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < full; j += 16) {
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(in + j), shift));
    _mm512_storeu_ps(out + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (tail) {
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_mask_loadu_ps(lowest, tail, in + full), shift));
    _mm512_mask_storeu_ps(out + full, tail, e);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(tail, e));
  }
  return lanes_sum(sum);
}
#endif

}  // namespace

bool exp_rows_vectorised() {
#if defined(SDW_SOFTMAX_AVX512)
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok;
#else
  return false;
#endif
}

float exp_shifted_row(const float* in, float* out, int64_t n) {
#if defined(SDW_SOFTMAX_AVX512)
  if (exp_rows_vectorised()) return exp_shifted_avx512(in, out, n);
#endif
  return exp_shifted_scalar(in, out, n);
}

}  // namespace sdw::nn
