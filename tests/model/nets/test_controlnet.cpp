// ControlNetModel parity against diffusers (tests/fixtures/controlnet/components.*, README L): the
// tiny ControlNet's residuals for a fixed input (two samples, timesteps [999, 47], the edge map
// and its mirror as control images), the conditioning embedding alone, and the tiny-sd15 UNet's
// output with those residuals added (scale 1.0 and 0.5) and without.
// Tolerance: 1.2e-5 absolute (float32; the fixtures' float64 re-run differs by at most 5.0e-6 on
// residuals up to 10.8 and 9.2e-7 on the UNet output). Measured: mid_block_res_sample 9.3e-6
// with GroupNorm and SiLU apart, 1.01e-5 with them fused on the CPU (nn/group_norm_silu.h: moments
// in double, its own exp), on values up to 7.9: 1.3e-6 of the largest.
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include <iostream>

#include "model/loading/controlnet_folder.h"
#include "model/loading/diffusers_folder.h"
#include "model/loading/state_dict.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kTol = 1.2e-5;

struct Fixture {
  SafetensorsFile ref = SafetensorsFile::open(test::fixture("controlnet/components.safetensors"));
  ControlNetModel net = load_controlnet(test::fixture("controlnet/tiny-controlnet-sd15"), at::kFloat);
  UNet2DConditionModel unet = load_unet(test::fixture("pipelines/tiny-sd15/unet"), at::kFloat);
  at::Tensor sample = ref.get("in.sample"), t = ref.get("in.timesteps"), ctx = ref.get("in.encoder_hidden_states"),
             cond = ref.get("in.controlnet_cond");
};

void check(const std::string& what, const at::Tensor& actual, const at::Tensor& expected) {
  auto d = test::compare(actual, expected);
  std::cout << test::describe(what, d) << "\n";
  CHECK(d.max_abs < kTol);
}

}  // namespace

TEST_CASE("tiny ControlNet residuals and the UNet with them match diffusers", "[parity][controlnet]") {
  at::NoGradGuard no_grad;
  Fixture f;
  REQUIRE(f.net->config().cond_downscale() == 2);
  check("controlnet_cond_embedding", f.net->controlnet_cond_embedding->forward(f.cond),
        f.ref.get("controlnet_cond_embedding_out"));
  UNetControlResiduals r = f.net->forward(f.sample, f.t, f.ctx, f.cond, 1.0);
  REQUIRE(r.down.size() == 6);
  for (size_t i = 0; i < r.down.size(); ++i)
    check("down_block_res_samples." + std::to_string(i), r.down[i],
          f.ref.get("s10.down_block_res_samples." + std::to_string(i)));
  check("mid_block_res_sample", r.mid, f.ref.get("s10.mid_block_res_sample"));
  check("unet_out scale 1.0", f.unet->forward(f.sample, f.t, f.ctx, {}, r), f.ref.get("s10.unet_out"));
  UNetControlResiduals half = f.net->forward(f.sample, f.t, f.ctx, f.cond, 0.5);
  check("unet_out scale 0.5", f.unet->forward(f.sample, f.t, f.ctx, {}, half), f.ref.get("s05.unet_out"));
  check("unet_out without control", f.unet->forward(f.sample, f.t, f.ctx), f.ref.get("unet_out_no_control"));
}

TEST_CASE("guess mode scales the residuals by logspace(-1, 0) as diffusers does", "[controlnet]") {
  at::NoGradGuard no_grad;
  Fixture f;
  UNetControlResiduals plain = f.net->forward(f.sample, f.t, f.ctx, f.cond, 1.0);
  UNetControlResiduals guess = f.net->forward(f.sample, f.t, f.ctx, f.cond, 0.8, /*guess_mode=*/true);
  // 7 scales from 0.1 to 1.0 (10^(-1 + k/6)), times 0.8; the mid block takes the last.
  for (size_t i = 0; i < plain.down.size(); ++i) {
    const double s = std::pow(10.0, -1.0 + static_cast<double>(i) / 6.0) * 0.8;
    CHECK((guess.down[i] - plain.down[i] * s).abs().max().item<double>() < 1e-5);
  }
  CHECK((guess.mid - plain.mid * 0.8).abs().max().item<double>() < 1e-5);
}

TEST_CASE("a ControlNet folder loads strictly by name", "[controlnet]") {
  REQUIRE(is_controlnet_folder(test::fixture("controlnet/tiny-controlnet-sd15")));
  REQUIRE_FALSE(is_controlnet_folder(test::fixture("pipelines/tiny-sd15/unet")));
  // A UNet folder is refused by its class name; a missing folder names the folder.
  CHECK_THROWS_AS(load_controlnet(test::fixture("pipelines/tiny-sd15/unet"), at::kFloat), LoadError);
  CHECK_THROWS_AS(load_controlnet(test::fixture("controlnet/no-such-folder"), at::kFloat), LoadError);
}

TEST_CASE("the UNet refuses residuals that do not fit its skip connections", "[controlnet]") {
  at::NoGradGuard no_grad;
  Fixture f;
  UNetControlResiduals r = f.net->forward(f.sample, f.t, f.ctx, f.cond, 1.0);
  r.down.pop_back();
  CHECK_THROWS_AS(f.unet->forward(f.sample, f.t, f.ctx, {}, r), std::invalid_argument);
}
