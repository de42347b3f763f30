// exp(x) for x <= 0 on 16 floats (AVX-512): k = round(x / ln2), r = x - k ln2 (ln2 in two parts),
// e^r by a degree-7 Taylor polynomial (|r| <= ln2/2), then scaled by 2^k (vscalefps: exact, and 0
// below float's range). Within 2 ulp of std::exp there (test_cpu_attention). Shared by the
// attention's softmax rows and the fused GroupNorm + SiLU; include only where x86-64 GCC/Clang
// compiles AVX-512 intrinsics (the callers check __builtin_cpu_supports("avx512f") at run time).
#pragma once

#include <immintrin.h>

namespace sdw::nn {

__attribute__((target("avx512f"))) inline __m512 exp_avx512(__m512 x) {
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  const __m512 ln2_hi = _mm512_set1_ps(0.693359375f), ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));  // e^-104 is 0 in float; keeps k in range
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, ln2_hi, x);
  r = _mm512_fnmadd_ps(k, ln2_lo, r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, k);
}

}  // namespace sdw::nn
