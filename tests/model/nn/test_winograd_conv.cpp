// Winograd 3x3 convolutions (winograd_conv.h): the same results as libtorch's direct convolution to
// float32 noise, whole or in bands of rows (edges, halos and a short last band), the eligibility
// rules, Conv2d taking the path, chunks of output channels, and the scratch pool handed back.
#include <catch.hpp>

#include <c10/core/InferenceMode.h>

#include "model/nn/cpu_allocator.h"
#include "model/nn/layers.h"
#include "model/nn/winograd_conv.h"

using namespace sdw;

namespace {

// Restores the flag a test changes.
struct WinogradFlag {
  bool was = nn::cpu_winograd_enabled();
  ~WinogradFlag() { nn::set_cpu_winograd(was); }
};

// max |a - b| relative to max |b|.
double rel_error(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

// libtorch's own convolution: the reference (direct oneDNN or im2col + BLAS).
at::Tensor direct(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return at::conv2d(x, w, b, {1, 1}, {1, 1});
}

}  // namespace

TEST_CASE("Winograd convolutions equal the direct ones, whole and in bands", "[nn][winograd]") {
  if (!nn::cpu_winograd_available()) {
    WARN("this build or CPU has no oneDNN Winograd kernels: Conv2d runs direct");
    CHECK_FALSE(nn::winograd_conv_eligible(at::zeros({1, 16, 64, 64}), at::zeros({16, 16, 3, 3}), 1, 1));
    return;
  }
  c10::InferenceMode guard;
  at::manual_seed(7);
  struct Case {
    int64_t n, c, o, h, w;
    bool bias;
    int64_t band_bytes;  // small budgets force bands of 4, 8, ... rows
  };
  const Case cases[] = {
      {1, 32, 48, 24, 20, true, nn::kWinogradBandBytes},  // one band
      {2, 16, 32, 22, 18, false, nn::kWinogradBandBytes},
      {1, 32, 48, 22, 20, true, 1},        // bands of 4 rows, the last one 2 rows
      {2, 48, 16, 37, 9, true, 200000},    // a few rows per band, odd sizes
      {1, 64, 64, 64, 64, true, 2 << 20},  // bands of several tiles
      // 640 x 576 weights: over kWinogradMaxWeightBytes transformed, so two chunks of output channels
      {2, 640, 576, 8, 12, true, nn::kWinogradBandBytes},
      {1, 640, 576, 14, 8, false, 1},  // chunks within bands
  };
  for (const Case& k : cases) {
    CAPTURE(k.n, k.c, k.o, k.h, k.w, k.bias, k.band_bytes);
    const at::Tensor x = at::randn({k.n, k.c, k.h, k.w});
    const at::Tensor w = at::randn({k.o, k.c, 3, 3}) * 0.1;
    const at::Tensor b = k.bias ? at::randn({k.o}) : at::Tensor();
    const at::Tensor ref = direct(x, w, b);
    const at::Tensor y = nn::winograd_conv2d(x, w, b, k.band_bytes);
    REQUIRE(y.defined());
    CHECK(y.sizes() == ref.sizes());
    // Measured 1-3e-6: the transforms' rounding, the size of float32 summation-order noise.
    CHECK(rel_error(y, ref) < 2e-5);
    // Every output row is written (a skipped band would hold uninitialised memory).
    CHECK((y - ref).abs().amax({0, 1, 3}).max().item<double>() < 2e-5 * ref.abs().max().item<double>());
  }
}

TEST_CASE("Winograd takes only stride-1, padding-1 fp32 3x3 convolutions of enough pixels", "[nn][winograd]") {
  if (!nn::cpu_winograd_available()) return;  // reported by the test above
  WinogradFlag flag;
  nn::set_cpu_winograd(true);
  const at::Tensor x = at::zeros({2, 32, 16, 16});  // 512 output pixels
  const at::Tensor w = at::zeros({32, 32, 3, 3});
  CHECK(nn::winograd_conv_eligible(x, w, 1, 1));
  CHECK_FALSE(nn::winograd_conv_eligible(x, w, 1, 2));                              // stride 2
  CHECK_FALSE(nn::winograd_conv_eligible(x, w, 0, 1));                              // no padding
  CHECK_FALSE(nn::winograd_conv_eligible(x, at::zeros({32, 32, 1, 1}), 0, 1));      // 1x1
  CHECK_FALSE(nn::winograd_conv_eligible(at::zeros({1, 32, 16, 16}), w, 1, 1));     // 256 pixels
  CHECK_FALSE(nn::winograd_conv_eligible(at::zeros({2, 4, 16, 16}), at::zeros({32, 4, 3, 3}), 1, 1));  // 4 channels
  CHECK_FALSE(nn::winograd_conv_eligible(x.to(at::kBFloat16), w, 1, 1));
  CHECK_FALSE(nn::winograd_conv_eligible(x.contiguous(at::MemoryFormat::ChannelsLast), w, 1, 1));
  // The 1280-channel levels too (in chunks of output channels).
  CHECK(nn::winograd_conv_eligible(at::zeros({2, 1280, 16, 16}), at::zeros({1280, 1280, 3, 3}), 1, 1));
  nn::set_cpu_winograd(false);
  CHECK_FALSE(nn::winograd_conv_eligible(x, w, 1, 1));
}

TEST_CASE("Conv2d runs Winograd where eligible, and the decode scope hands the scratch back", "[nn][winograd]") {
  if (!nn::cpu_winograd_available()) return;
  WinogradFlag flag;
  c10::InferenceMode guard;
  nn::Conv2d conv(32, 32, 3, 1, 1, true, at::TensorOptions());
  conv->weight.normal_(0, 0.1);
  conv->bias.normal_();
  const at::Tensor x = at::randn({1, 32, 32, 32});
  nn::set_cpu_winograd(false);
  const at::Tensor plain = conv->forward(x);
  nn::release_winograd_scratch();
  CHECK(nn::winograd_scratch_bytes() == 0);
  nn::set_cpu_winograd(true);
  const at::Tensor wino = conv->forward(x);
  CHECK(nn::winograd_scratch_bytes() > 0);  // the buffer it used, kept for the next call
  CHECK(rel_error(wino, plain) < 2e-5);
  CHECK_FALSE(wino.equal(plain));  // another algorithm: not bit-identical (so the path was taken)
  { nn::CpuDecodeAllocScope scope; }
  CHECK(nn::winograd_scratch_bytes() == 0);
  // One buffer per concurrent convolution: a larger one replaces the smaller, never joins it.
  const at::Tensor big = at::randn({2, 32, 256, 256});
  conv->forward(big);
  const int64_t big_bytes = nn::winograd_scratch_bytes();
  nn::release_winograd_scratch();
  conv->forward(x);
  CHECK(nn::winograd_scratch_bytes() < big_bytes);
  conv->forward(big);
  CHECK(nn::winograd_scratch_bytes() == big_bytes);
  conv->forward(x);  // over twice what it needs: the large buffer is replaced by a small one
  CHECK(nn::winograd_scratch_bytes() < big_bytes);
  nn::release_winograd_scratch();
}
