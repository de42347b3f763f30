// Blocked CPU attention (cpu_attention.h) and its unnormalised softmax rows (softmax_rows.h): the
// exp kernel against double precision, and the blocked attention against a float64 reference of
// softmax(q k^T * scale) v, with and without the causal mask, strided inputs (a fused QKV buffer),
// forced small blocks (a short last one) and dv != d; the attention entry point with the path on
// and off.
#include <catch.hpp>

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <limits>
#include <vector>

#include "model/nn/attention.h"
#include "model/nn/cpu_attention.h"
#include "model/nn/softmax_rows.h"

using namespace sdw;

namespace {

// softmax(q k^T * scale [+ causal mask]) v in float64.
at::Tensor reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal, double scale) {
  at::Tensor s = at::matmul(q.to(at::kDouble), k.to(at::kDouble).transpose(-1, -2)) * scale;
  if (causal) {
    const at::Tensor mask = at::ones({q.size(2), k.size(2)}, at::kBool).triu(1);
    s = s.masked_fill(mask, -std::numeric_limits<double>::infinity());
  }
  return at::matmul(at::softmax(s, -1), v.to(at::kDouble));
}

struct BlockedFlag {
  bool was = nn::cpu_blocked_attention_enabled();
  ~BlockedFlag() { nn::set_cpu_blocked_attention(was); }
};

}  // namespace

TEST_CASE("exp_shifted_row is exp(x - max) and its sum to float precision", "[nn][attention]") {
  INFO("AVX-512 kernel: " << nn::exp_rows_vectorised());
  at::manual_seed(3);
  for (int64_t n : {1, 15, 16, 17, 77, 4096}) {
    CAPTURE(n);
    // Values over softmax's whole useful range (exp underflows below -87), and masked entries.
    std::vector<float> in(static_cast<size_t>(n));
    const at::Tensor r = at::rand({n}, at::kDouble) * 120 - 90;
    for (int64_t j = 0; j < n; ++j) in[j] = static_cast<float>(r[j].item<double>());
    if (n > 2) in[1] = -std::numeric_limits<float>::infinity();
    std::vector<float> out(in.size());
    const float sum = nn::exp_shifted_row(in.data(), out.data(), n);
    double m = -INFINITY, ref_sum = 0;
    for (float x : in) m = std::max(m, static_cast<double>(x));
    double worst = 0;
    for (int64_t j = 0; j < n; ++j) {
      // The shift is a float subtraction (as in any float softmax): the kernel's own error is measured.
      const double e = std::exp(static_cast<double>(in[j] - static_cast<float>(m)));
      ref_sum += e;
      // Relative error where the value is a normal float; absolute below (denormals, masked zeros).
      worst = std::max(worst, e > 1e-37 ? std::abs(out[j] - e) / e : std::abs(out[j] - e) * 1e30);
    }
    CHECK(worst < 5e-7);  // within ~4 float ulp (measured ~1e-7)
    CHECK(std::abs(sum - ref_sum) / ref_sum < 1e-6);
    // In place (out == in), as the attention calls it.
    std::vector<float> inplace = in;
    CHECK(nn::exp_shifted_row(inplace.data(), inplace.data(), n) == sum);
    CHECK(inplace == out);
  }
}

TEST_CASE("blocked attention equals softmax(q k^T) v", "[nn][attention]") {
  c10::InferenceMode guard;
  at::manual_seed(11);
  const double scale = 1.0 / std::sqrt(24.0);
  const at::Tensor q = at::randn({2, 3, 37, 24}), k = at::randn({2, 3, 53, 24}), v = at::randn({2, 3, 53, 20});
  const at::Tensor probe = nn::cpu_blocked_attention(q, k, v, false, scale);
  if (!probe.defined()) {
    WARN("this build has no oneDNN API (libdnnl-dev): attention runs one head at a time");
    CHECK_FALSE(nn::cpu_blocked_attention_enabled());
    return;
  }
  CHECK(probe.sizes() == at::IntArrayRef({2, 3, 37, 20}));
  CHECK((probe - reference(q, k, v, false, scale)).abs().max().item<double>() < 2e-6);
  // Blocks of 16 query rows: 37 = 16 + 16 + 5.
  const at::Tensor blocked = nn::cpu_blocked_attention(q, k, v, false, scale, 16 * 53);
  CHECK((blocked - reference(q, k, v, false, scale)).abs().max().item<double>() < 2e-6);

  // Causal (CLIP's text encoder), square, several blocks.
  const at::Tensor qc = at::randn({1, 4, 45, 24}), kc = at::randn({1, 4, 45, 24}), vc = at::randn({1, 4, 45, 24});
  const at::Tensor causal = nn::cpu_blocked_attention(qc, kc, vc, true, scale, 16 * 45);
  CHECK((causal - reference(qc, kc, vc, true, scale)).abs().max().item<double>() < 2e-6);
  // The first query sees only the first key: its output is v's first row.
  CHECK((causal.select(2, 0) - vc.select(2, 0)).abs().max().item<double>() < 1e-6);

  // Strided q, k, v: views of one fused [B, L, 3 * h * d] buffer, as fused QKV makes them.
  const at::Tensor fused = at::randn({2, 64, 3 * 4 * 24});
  auto head_view = [&](int i) { return fused.narrow(2, i * 96, 96).view({2, 64, 4, 24}).transpose(1, 2); };
  const at::Tensor qs = head_view(0), ks = head_view(1), vs = head_view(2);
  REQUIRE_FALSE(qs.is_contiguous());
  const at::Tensor strided = nn::cpu_blocked_attention(qs, ks, vs, false, scale);
  CHECK((strided - reference(qs, ks, vs, false, scale)).abs().max().item<double>() < 2e-6);
}

TEST_CASE("attention takes the blocked path for large products and matches the per-head one", "[nn][attention]") {
  c10::InferenceMode guard;
  BlockedFlag flag;
  at::manual_seed(5);
  // 128 x 128 x 32 multiply-adds per head: over the per-head path's 2^18 threshold.
  const at::Tensor q = at::randn({2, 4, 128, 32}), k = at::randn({2, 4, 128, 32}), v = at::randn({2, 4, 128, 32});
  nn::set_cpu_blocked_attention(false);
  const at::Tensor per_head = nn::scaled_dot_product_attention(q, k, v, false, false);
  nn::set_cpu_blocked_attention(true);
  const at::Tensor blocked = nn::scaled_dot_product_attention(q, k, v, false, false);
  const at::Tensor ref = reference(q, k, v, false, 1.0 / std::sqrt(32.0));
  CHECK((per_head - ref).abs().max().item<double>() < 2e-6);
  CHECK((blocked - ref).abs().max().item<double>() < 2e-6);
  if (nn::cpu_blocked_attention_enabled()) CHECK_FALSE(blocked.equal(per_head));  // another route, not a no-op
}

TEST_CASE("blocked attention's tasks run on more than one thread", "[nn][attention]") {
  // at::parallel_for is inlined into cpu_attention.cpp: built without OpenMP, every task would run
  // on the calling thread (the step's self-attention then took 1.4x as long at 512x512).
  BlockedFlag flag;
  nn::set_cpu_blocked_attention(true);
  if (!nn::cpu_blocked_attention_enabled()) return;  // no oneDNN API in this build: no blocked path
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  const int used = nn::cpu_blocked_attention_threads();
  at::set_num_threads(threads);
  CHECK(used == 2);
}
