// The softmax of one row of attention scores, unnormalised: out[j] = exp(in[j] - max(in)), the sum
// returned, so the caller divides its (much smaller) product with v instead of every probability.
// libtorch 1.13's softmax (Sleef's exp) and oneDNN's softmax primitive both run at 1.2-1.4 ns per
// element on one Zen 4 core, which made the softmax the largest single cost of 512x512 attention
// once the scores stayed in cache (cpu_attention.h). This is one pass for the maximum and one for
// exp and sum, in AVX-512 where the CPU has it (exp as 2^k * e^r, |r| <= ln2/2, by a degree-7
// Taylor polynomial: within 2 ulp of std::exp over the range softmax uses), std::exp elsewhere.
#pragma once

#include <cstdint>

namespace sdw::nn {

// out may equal in. n >= 1. Returns the sum of out.
float exp_shifted_row(const float* in, float* out, int64_t n);
// Whether exp_shifted_row runs its AVX-512 kernel on this CPU.
bool exp_rows_vectorised();

}  // namespace sdw::nn
