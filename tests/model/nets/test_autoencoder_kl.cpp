// AutoencoderKL parity against diffusers (tests/fixtures/references/<pipeline>): decode of scaled
// latents, encode of an image to the posterior mean/logvar/std.
// Tolerance: 1e-5 absolute (float32; the fixtures' float64 re-run differs by 1.9e-6).
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include <iostream>

#include "model/nets/autoencoder_kl.h"
#include "model/loading/diffusers_folder.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kTol = 1e-5;

void check(const std::string& pipeline) {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("references/" + pipeline + ".safetensors"));
  auto vae = load_vae(test::fixture("pipelines/" + pipeline + "/vae"), at::kFloat);
  const double sf = vae->config().scaling_factor;
  at::Tensor image = vae->decode(ref.get("vae.decode.latents_scaled") / sf);
  auto d = test::compare(image, ref.get("vae.decode.image"));
  std::cout << test::describe(pipeline + " vae decode", d) << "\n";
  CHECK(d.max_abs < kTol);

  LatentDistribution dist = vae->encode(ref.get("vae.encode.image"));
  for (const auto& [name, t] : std::vector<std::pair<std::string, at::Tensor>>{
           {"mean", dist.mean}, {"logvar", dist.logvar}, {"std", dist.std}}) {
    d = test::compare(t, ref.get("vae.encode." + name));
    std::cout << test::describe(pipeline + " vae encode " + name, d) << "\n";
    CHECK(d.max_abs < kTol);
  }
}

}  // namespace

TEST_CASE("tiny-sd15 VAE matches diffusers", "[parity][vae]") { check("tiny-sd15"); }
TEST_CASE("tiny-sd21v VAE matches diffusers", "[parity][vae]") { check("tiny-sd21v"); }
TEST_CASE("tiny-sdxl VAE (scaling 0.13025) matches diffusers", "[parity][vae]") { check("tiny-sdxl"); }

TEST_CASE("VAE scale factor follows the number of levels", "[vae]") {
  auto vae = load_vae(test::fixture("pipelines/tiny-sd15/vae"), at::kFloat);
  REQUIRE(vae->config().scale_factor() == 2);
  at::NoGradGuard no_grad;
  at::Tensor img = vae->decode(at::randn({1, 4, 5, 7}));
  REQUIRE(img.sizes() == at::IntArrayRef({1, 3, 10, 14}));
}
