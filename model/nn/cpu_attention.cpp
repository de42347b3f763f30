// Blocked fp32 CPU attention (see cpu_attention.h).
#include "model/nn/cpu_attention.h"

#include "model/nn/env_switch.h"
#include "model/nn/softmax_rows.h"

#include <ATen/Config.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

// With libtorch's OpenMP backend at::parallel_for's body is compiled here: without OpenMP it runs
// every task on one thread (model/CMakeLists.txt compiles this file with it).
#if defined(SDW_WITH_DNNL) && AT_PARALLEL_OPENMP && !defined(_OPENMP)
#error "cpu_attention.cpp must be compiled with OpenMP (at::parallel_for would run on one thread)"
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#if defined(SDW_WITH_DNNL)
#include <dnnl.h>
#endif

namespace sdw::nn {
namespace {

std::atomic<bool>& blocked_flag() {
  static std::atomic<bool> flag{env_switch("SDW_CPU_BLOCKED_ATTENTION", true)};
  return flag;
}

}  // namespace

bool cpu_blocked_attention_enabled() {
#if defined(SDW_WITH_DNNL)
  return blocked_flag().load(std::memory_order_relaxed);
#else
  return false;
#endif
}
void set_cpu_blocked_attention(bool enabled) { blocked_flag().store(enabled); }

int cpu_blocked_attention_threads() {
  std::array<std::atomic<std::thread::id>, 2> ids{};
  at::parallel_for(0, 2, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) ids[static_cast<size_t>(i)] = std::this_thread::get_id();
  });
  return ids[0].load() == ids[1].load() ? 1 : 2;
}

at::Tensor cpu_blocked_attention(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in, bool causal,
                                 double scale, int64_t block_floats) {
#if defined(SDW_WITH_DNNL)
  RECORD_FUNCTION("sdw::blocked_attention", std::vector<c10::IValue>({q_in, k_in}));
  // Rows of each (batch, head) may have any stride; the features must be contiguous.
  auto rows_contiguous = [](const at::Tensor& t) { return t.stride(3) == 1 ? t : t.contiguous(); };
  const at::Tensor q = rows_contiguous(q_in), k = rows_contiguous(k_in), v = rows_contiguous(v_in);
  const int64_t b = q.size(0), heads = q.size(1), lq = q.size(2), d = q.size(3), lk = k.size(2), dv = v.size(3);
  at::Tensor out = at::empty({b, lq, heads, dv}, q.options());  // [B, Lq, h, dv]
  const int64_t block = std::min(lq, std::max<int64_t>(16, block_floats / std::max<int64_t>(lk, 1)));  // query rows
  const int64_t blocks = (lq + block - 1) / block;
  const float* qp = q.data_ptr<float>();
  const float* vp = v.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const auto alpha = static_cast<float>(scale);
  at::parallel_for(0, b * heads * blocks, 1, [&](int64_t begin, int64_t end) {
    // This task's scores [block, Lk] (then their exps), and its head's keys transposed [d, Lk]
    // (oneDNN's sgemm runs ~1.5x faster on a contiguous k^T than on k read transposed).
    at::Tensor scores = at::empty({block, lk}, q.options());
    std::vector<float> inv_sum(static_cast<size_t>(block));
    at::Tensor kt = at::empty({d, lk}, q.options());
    int64_t kt_head = -1;  // the (batch, head) kt holds
    for (int64_t task = begin; task < end; ++task) {
      const int64_t bi = task / (heads * blocks), h = task / blocks % heads, q0 = task % blocks * block;
      const int64_t rows = std::min(block, lq - q0);
      const float* qb = qp + bi * q.stride(0) + h * q.stride(1) + q0 * q.stride(2);  // [rows, d]
      const float* vb = vp + bi * v.stride(0) + h * v.stride(1);                      // [Lk, dv]
      float* ob = op + (bi * lq + q0) * heads * dv + h * dv;                          // [rows, dv], row stride h*dv
      if (kt_head != bi * heads + h) {
        kt.copy_(k.select(0, bi).select(0, h).t());  // [d, Lk]
        kt_head = bi * heads + h;
      }
      float* s = scores.data_ptr<float>();
      // [rows, Lk] = scale * q k^T (one thread: oneDNN's gemm runs single-threaded inside a parallel region)
      if (dnnl_sgemm('N', 'N', rows, lk, d, alpha, qb, q.stride(2), kt.data_ptr<float>(), lk, 0.0f, s, lk) != dnnl_success)
        throw std::runtime_error("cpu_blocked_attention: oneDNN sgemm failed (q k^T)");
      if (causal) {
        for (int64_t i = 0; i < rows; ++i)
          std::fill(s + i * lk + std::min(lk, q0 + i + 1), s + (i + 1) * lk, -std::numeric_limits<float>::infinity());
      }
      // exp(scores - row max) in place; the division by the row sums moves after the product with v
      for (int64_t i = 0; i < rows; ++i) inv_sum[i] = 1.0f / exp_shifted_row(s + i * lk, s + i * lk, lk);
      // [rows, dv] = exp(scores) v, written into the heads-interleaved output, then each row / its sum
      if (dnnl_sgemm('N', 'N', rows, dv, lk, 1.0f, s, lk, vb, v.stride(2), 0.0f, ob, heads * dv) != dnnl_success)
        throw std::runtime_error("cpu_blocked_attention: oneDNN sgemm failed (probs v)");
      for (int64_t i = 0; i < rows; ++i) {
        float* row = ob + i * heads * dv;
        for (int64_t j = 0; j < dv; ++j) row[j] *= inv_sum[i];
      }
    }
  });
  return out.transpose(1, 2);  // [B, h, Lq, dv]
#else
  (void)q_in, (void)k_in, (void)v_in, (void)causal, (void)scale, (void)block_floats;
  return {};
#endif
}

}  // namespace sdw::nn
