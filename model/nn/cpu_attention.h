// fp32 CPU attention in blocks of query rows, flash-attention style: each task takes one (batch,
// head) and a block of queries, and its [rows, Lk] scores go through the scale (inside the product),
// the mask, the softmax and the product with v while they sit in the core's cache. The plain path
// writes each head's [Lq, Lk] scores to memory and reads them back three times; at 512x512 (4096
// tokens) those 64 MiB per head made the UNet's self-attention memory-bound: 3.4 s of a 12 s step
// on a 2-core machine, the products at 60-150 GFLOP/s (docs/memory.md, "Speed at 512x512").
// Products go through oneDNN's sgemm (linked from Debian's libdnnl, nn/winograd_conv.h), one task
// per thread; q, k and v are read in place (any row stride), and the result is written straight
// into a [B, Lq, h, dv] buffer, so merging the heads is free. Results equal the plain path to
// float32 rounding (the scale is applied in the product, as diffusers' baddbmm does).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace sdw::nn {

// On by default where the build found libdnnl; `SDW_CPU_BLOCKED_ATTENTION=0` or
// set_cpu_blocked_attention(false) goes back to one (batch, head) at a time.
bool cpu_blocked_attention_enabled();
void set_cpu_blocked_attention(bool enabled);

// Scores per task (floats): rows per block = max(16, kAttentionBlockFloats / Lk).
constexpr int64_t kAttentionBlockFloats = int64_t{1} << 18;  // 64 rows (1 MiB) at 4096 keys

// q [B, h, Lq, d], k [B, h, Lk, d], v [B, h, Lk, dv] (fp32 CPU, last dims contiguous) ->
// [B, h, Lq, dv] (a view of a [B, Lq, h, dv] buffer); undefined where the build has no oneDNN API.
at::Tensor cpu_blocked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                 double scale, int64_t block_floats = kAttentionBlockFloats);

// How many threads the blocked attention's at::parallel_for runs two tasks on: 2 where libtorch
// has 2 or more intra-op threads, unless the file was built without OpenMP (then every task runs
// on the calling thread; test_cpu_attention checks the build).
int cpu_blocked_attention_threads();

}  // namespace sdw::nn
