// AutoencoderTiny (TAESD) against diffusers v0.30.3 (tests/fixtures/vae_extras/taesd_components.*,
// README N.3): decode (with the tanh input clamp), encode, forward (uint8 latent storage) for the
// SD1.x-style and SDXL-style tiny models. Tolerance 1e-5 absolute (the fixtures' float64 re-run
// differs from float32 by up to 4.6e-6).
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include <iostream>
#include <string>

#include "model/loading/state_dict.h"
#include "model/loading/taesd_folder.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kTol = 1e-5;

void check(const std::string& what, const at::Tensor& got, const at::Tensor& expected) {
  auto d = test::compare(got, expected);
  std::cout << test::describe(what, d) << "\n";
  CHECK(got.sizes() == expected.sizes());
  CHECK(d.max_abs < kTol);
}

}  // namespace

TEST_CASE("TAESD decode / encode / forward match diffusers' AutoencoderTiny", "[parity][taesd]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("vae_extras/taesd_components.safetensors"));
  auto taesd = load_taesd(test::fixture("vae_extras/tiny-taesd-sd15"), at::kFloat);
  CHECK(taesd->config().scale_factor() == 8);
  check("decode latent_a", taesd->decode(ref.get("in.latent_a")), ref.get("dec.latent_a"));
  check("decode latent_b (clamped input)", taesd->decode(ref.get("in.latent_b")), ref.get("dec.latent_b"));
  check("decode latent_c", taesd->decode(ref.get("in.latent_c")), ref.get("dec.latent_c"));
  check("encode image", taesd->encode(ref.get("in.image")), ref.get("enc.image"));
  at::Tensor q = taesd->scale_latents(taesd->encode(ref.get("in.image"))).mul(255).round().to(at::kByte);
  CHECK(q.equal(ref.get("forward.latents_uint8")));
  check("forward image", taesd->forward(ref.get("in.image")), ref.get("forward.image"));
  auto xl = load_taesd(test::fixture("vae_extras/tiny-taesd-sdxl"), at::kFloat);
  check("xl decode latent_a", xl->decode(ref.get("in.latent_a")), ref.get("dec.xl.latent_a"));
  check("xl encode image", xl->encode(ref.get("in.image")), ref.get("enc.xl.image"));
}

TEST_CASE("TAESD folders load strictly", "[taesd]") {
  // A KL VAE folder is not a TAESD folder; a folder without config.json is refused.
  CHECK_THROWS_AS(load_taesd(test::fixture("pipelines/tiny-sd15/vae"), at::kFloat), LoadError);
  CHECK_THROWS_AS(load_taesd(test::fixture("vae_extras"), at::kFloat), LoadError);
}
