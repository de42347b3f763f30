// The fused CPU GroupNorm + SiLU (model/nn/group_norm_silu.h) against at::silu(at::group_norm(...))
// computed in float64, and the unfused float32 pair: shapes with tails, one and several images,
// large means (the centred variance), and the layers that take it.
#include <catch.hpp>

#include "model/nn/group_norm_silu.h"
#include "model/nn/resnet.h"

using namespace sdw;

namespace {

// silu(group_norm(x)) in float64.
at::Tensor reference(const at::Tensor& x, int64_t groups, const at::Tensor& w, const at::Tensor& b, double eps) {
  return at::silu(at::group_norm(x.to(at::kDouble), groups, w.to(at::kDouble), b.to(at::kDouble), eps));
}

double max_error(const at::Tensor& a, const at::Tensor& ref) {
  return (a.to(at::kDouble) - ref).abs().max().item<double>() / std::max(1.0, ref.abs().max().item<double>());
}

struct FusedFlag {
  bool saved = nn::cpu_fused_norm_enabled();
  ~FusedFlag() { nn::set_cpu_fused_norm(saved); }
};

}  // namespace

TEST_CASE("fused GroupNorm + SiLU equals silu(group_norm(x))", "[nn][norm]") {
  c10::InferenceMode guard;
  FusedFlag flag;
  nn::set_cpu_fused_norm(true);
  if (!nn::cpu_fused_norm_enabled()) return;  // no AVX-512 on this CPU: the unfused pair runs (checked below)
  at::manual_seed(11);
  struct Case {
    std::vector<int64_t> shape;
    int64_t groups;
    double mean;
  };
  for (const Case& c : {Case{{1, 32, 16, 16}, 8, 0.0}, Case{{2, 64, 13, 7}, 32, 0.5}, Case{{1, 128, 33, 31}, 32, 0.0},
                        Case{{2, 48, 1, 1}, 16, 0.0}, Case{{1, 320, 9, 9}, 32, 40.0}, Case{{3, 16, 5}, 4, -3.0}}) {
    const at::Tensor x = at::randn(c.shape) * 3 + c.mean;
    const int64_t ch = c.shape[1];
    const at::Tensor w = at::randn({ch}), b = at::randn({ch});
    const at::Tensor fused = nn::cpu_group_norm_silu(x, c.groups, w, b, 1e-6);
    REQUIRE(fused.defined());
    CHECK(fused.sizes() == x.sizes());
    const at::Tensor ref = reference(x, c.groups, w, b, 1e-6);
    const at::Tensor unfused = at::silu(at::group_norm(x, c.groups, w, b, 1e-6));
    INFO("shape " << x.sizes() << " mean " << c.mean);
    // within a few float ulps of the float64 result, and no further from it than libtorch's pair
    CHECK(max_error(fused, ref) < 2e-6);
    CHECK(max_error(fused, ref) <= max_error(unfused, ref) + 1e-6);
  }
  // In place: the same values, written over the input.
  {
    const at::Tensor x = at::randn({2, 64, 17, 9}) + 1.5;
    const at::Tensor w = at::randn({64}), b = at::randn({64});
    const at::Tensor expected = nn::cpu_group_norm_silu(x, 16, w, b, 1e-6);
    at::Tensor buffer = x.clone();
    const at::Tensor in_place = nn::cpu_group_norm_silu(buffer, 16, w, b, 1e-6, true);
    CHECK(in_place.data_ptr() == buffer.data_ptr());
    CHECK(in_place.equal(expected));
  }
  // Large negative and positive pre-activations: silu's tails (0 and y) without overflow.
  const at::Tensor x = at::linspace(-200, 200, 4096).view({1, 16, 16, 16});
  const at::Tensor w = at::full({16}, 50.0), b = at::zeros({16});
  const at::Tensor fused = nn::cpu_group_norm_silu(x, 4, w, b, 1e-5);
  CHECK(at::isfinite(fused).all().item<bool>());
  CHECK(max_error(fused, reference(x, 4, w, b, 1e-5)) < 2e-6);
}

TEST_CASE("norm_activation fuses only fp32 contiguous SiLU on the CPU, and ResnetBlock2D takes it", "[nn][norm]") {
  c10::InferenceMode guard;
  FusedFlag flag;
  at::manual_seed(12);
  nn::GroupNorm norm(8, 32, 1e-5, at::TensorOptions());
  norm->weight.normal_();
  norm->bias.normal_();
  const at::Tensor x = at::randn({2, 32, 12, 12});
  const at::Tensor ref = reference(x, 8, norm->weight, norm->bias, 1e-5);
  nn::set_cpu_fused_norm(false);
  const at::Tensor plain = nn::norm_activation(norm, "silu", x);
  CHECK(plain.equal(at::silu(norm->forward(x))));  // switched off: exactly the unfused pair
  nn::set_cpu_fused_norm(true);
  const at::Tensor fused = nn::norm_activation(norm, "silu", x);
  CHECK(max_error(fused, ref) < 2e-6);
  if (nn::cpu_fused_norm_enabled()) CHECK_FALSE(fused.equal(plain));  // another route, not a no-op
  at::Tensor scratch = x.clone();
  const at::Tensor over = nn::norm_activation_(norm, "silu", scratch);
  CHECK(over.equal(fused));
  if (nn::cpu_fused_norm_enabled()) CHECK(over.data_ptr() == scratch.data_ptr());  // written over its input
  // Not fused: channels-last input, another activation, another dtype.
  const at::Tensor nhwc = x.contiguous(at::MemoryFormat::ChannelsLast);
  CHECK(max_error(nn::norm_activation(norm, "silu", nhwc), ref) < 2e-6);
  CHECK(nn::norm_activation(norm, "relu", x).equal(at::relu(norm->forward(x))));
  nn::GroupNorm half(8, 32, 1e-5, at::TensorOptions().dtype(at::kDouble));
  half->weight.fill_(1.0);
  half->bias.zero_();
  const at::Tensor xd = x.to(at::kDouble);
  CHECK(nn::norm_activation(half, "silu", xd).equal(at::silu(half->forward(xd))));

  // A ResnetBlock2D with the fused norms against the same block unfused.
  nn::ResnetOptions o;
  o.in_channels = 32;
  o.out_channels = 64;
  o.temb_channels = 0;
  o.groups = 8;
  nn::ResnetBlock2D block(o, at::TensorOptions());
  for (auto& p : block->parameters()) p.normal_(0, 0.2);
  nn::set_cpu_fused_norm(false);
  const at::Tensor unfused = block->forward(x, {});
  nn::set_cpu_fused_norm(true);
  CHECK((block->forward(x, {}) - unfused).abs().max().item<double>() < 1e-5 * std::max(1.0, unfused.abs().max().item<double>()));
}
