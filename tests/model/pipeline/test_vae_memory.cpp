// The VAE memory options in a pipeline: diffusers' seeded enable_vae_tiling cases
// (tests/fixtures/vae_extras/vae_tiled_*, README N.6: tiny-sd15 with forced 16 px tiles, overlap
// 0.25) give diffusers' images (max pixel diff <= 1) with --vae-tiling's settings, a job's
// vae_tiling: false gives diffusers' untiled decode of the same latents, and the automatic rule.
#include <catch.hpp>

#include <iostream>

#include "model/pipeline/generate.h"
#include "model/pipeline/taesd_use.h"
#include "model/pipeline/vae_memory.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;

namespace {

std::shared_ptr<SdModel> load_tiled(bool tiling) {
  ModelLoadOptions o;
  o.memory.vae_tiling = tiling;
  o.memory.vae_tile_size = 16;  // tile_sample_min_size 16 -> tile_latent_min_size 8 (factor 2)
  o.memory.vae_tile_overlap = 0.25;
  return load_diffusers_model(test::fixture("pipelines/tiny-sd15"), o);
}

int diff_to(const Image& got, const std::string& png) {
  return test::max_pixel_diff(got, load_image(test::fixture("vae_extras/" + png)));
}

}  // namespace

TEST_CASE("seeded tiled-VAE cases give diffusers' enable_vae_tiling images", "[parity][pipeline][seeded][tiling]") {
  auto model = load_tiled(true);
  const auto cases = test::read_json(test::fixture("vae_extras/cases.json"));
  int ran = 0;
  for (const auto& c : cases["cases"]) {
    const std::string id = c["id"];
    if (id.rfind("vae_tiled_", 0) != 0) continue;
    ++ran;
    INFO(id);
    GenerationRequest req = test::seeded_request(c, "vae_extras");
    GenerationResult result = generate(*model, req);
    const int d = diff_to(result.images.at(0), c["expected"][0]["png"].get<std::string>());
    std::cout << id << ": max pixel diff " << d << "\n";
    CHECK(d <= 1);
    // The untiled image differs (diffusers: thousands of 8-bit values), so the check above tests the tiling.
    req.vae_tiling = false;
    GenerationResult untiled = generate(*model, req);
    CHECK(diff_to(untiled.images.at(0), c["expected"][0]["png"].get<std::string>()) > 1);
  }
  CHECK(ran == 2);
}

TEST_CASE("VAE tiling: the job's choice, then --vae-tiling, then the free-memory rule", "[pipeline][tiling]") {
  auto model = load_tiled(false);
  const AutoencoderKLConfig& c = model->vae->config();
  MemoryOptions off;
  at::Tensor z = at::zeros({1, 4, 16, 24});
  const int64_t need = vae_pass_bytes(c, 1, 32, 48, 4);
  CHECK_FALSE(vae_tiles(c, off, std::nullopt, z, true, 4, need));     // fits: plain
  CHECK(vae_tiles(c, off, std::nullopt, z, true, 4, need - 1));       // does not fit: tiled
  CHECK_FALSE(vae_tiles(c, off, std::nullopt, z, true, 4, -1));       // free memory unknown: plain
  CHECK_FALSE(vae_tiles(c, off, false, z, true, 4, need - 1));        // the job said no
  MemoryOptions on;
  on.vae_tiling = true;
  CHECK(vae_tiles(c, on, std::nullopt, z, true, 4, -1));
  CHECK_FALSE(vae_tiles(c, on, false, z, true, 4, -1));
  // Encoding a 32x48 image weighs the same as decoding to it.
  CHECK(vae_tiles(c, off, std::nullopt, at::zeros({1, 3, 32, 48}), false, 4, need - 1));
  // A scope sets the job's choice on the model's VAE and restores it.
  at::NoGradGuard no_grad;
  at::Tensor lat = at::randn({1, 4, 16, 24});
  const at::Tensor plain = model->vae->decode(lat);
  {
    VaeTilingScope scope(*model, true);
    CHECK(test::compare(model->vae->decode(lat), plain).max_abs > 0.1);
  }
  CHECK(model->vae->decode(lat).equal(plain));
  CHECK_THROWS_AS(apply_memory_options(*model, [] { MemoryOptions m; m.vae_tile_size = 16; m.vae_tile_overlap = 0.3; return m; }()),
                  std::invalid_argument);
}

TEST_CASE("seeded TAESD cases give diffusers' images with --final-decoder taesd", "[parity][pipeline][seeded][taesd]") {
  const auto cases = test::read_json(test::fixture("vae_extras/cases.json"));
  int ran = 0;
  for (const auto& c : cases["cases"]) {
    const std::string id = c["id"];
    if (id.rfind("taesd_", 0) != 0) continue;
    ++ran;
    INFO(id);
    ModelLoadOptions o;
    o.memory.taesd_dir = test::fixture("vae_extras/" + c["vae"].get<std::string>());
    o.memory.final_decoder = "taesd";
    auto model = load_diffusers_model(test::fixture("pipelines/" + c["pipeline"].get<std::string>()), o);
    CHECK(model->vae_scale_factor() == 8);  // TAESD's factor, not tiny-sd15's VAE's 2
    GenerationRequest req = test::seeded_request(c, "vae_extras");
    GenerationResult result = generate(*model, req);
    CHECK(result.unet_calls == c["unet_calls"].get<int>());
    const int d = diff_to(result.images.at(0), c["expected"][0]["png"].get<std::string>());
    std::cout << id << ": max pixel diff " << d << "\n";
    CHECK(d <= 1);
  }
  CHECK(ran == 3);
  // TAESD previews: the same decoder on the first image, 8x the latent size.
  ModelLoadOptions o;
  o.memory.taesd_dir = test::fixture("vae_extras/tiny-taesd-sd15");
  o.memory.preview_decoder = "taesd";
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), o);
  CHECK_FALSE(model->taesd_final);
  CHECK(model->vae_scale_factor() == 2);
  at::Tensor z = at::randn({2, 4, 6, 5});
  Image preview = taesd_preview(*model, z);
  CHECK(preview.width == 40);
  CHECK(preview.height == 48);
  at::NoGradGuard no_grad;
  at::Tensor direct = (model->taesd->decode(z.slice(0, 0, 1))[0] / 2 + 0.5).clamp(0, 1).permute({1, 2, 0});
  at::Tensor got = at::from_blob(preview.pixels.data(), {48, 40, 3}, at::kByte).to(at::kFloat) / 255;
  CHECK(test::compare(got, direct).max_abs <= 0.5 / 255 + 1e-6);
  // --final-decoder taesd without a folder is refused.
  ModelLoadOptions bad;
  bad.memory.final_decoder = "taesd";
  CHECK_THROWS_AS(load_diffusers_model(test::fixture("pipelines/tiny-sd15"), bad), std::invalid_argument);
}
