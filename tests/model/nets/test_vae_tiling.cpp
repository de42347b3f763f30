// Tiled AutoencoderKL decode / encode against diffusers' enable_tiling() on tiny-sd15's VAE with
// forced small tiles (tests/fixtures/vae_extras/tiled_vae.*: Ts 16, Tl 8, overlap 0.25; README N.4).
// Tolerance 1e-5 absolute (float32; the fixtures' float64 re-runs differ by ~2e-6); the blending
// alone on diffusers' own raw tiles is exact (0.0).
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include <iostream>
#include <string>

#include "model/loading/diffusers_folder.h"
#include "model/nets/vae_tiling.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kTol = 1e-5;

VaeTiling fixture_tiling() {
  VaeTiling t;
  t.tile_sample_min_size = 16;
  t.tile_latent_min_size = 8;
  t.tile_overlap_factor = 0.25;
  return t;
}

}  // namespace

TEST_CASE("tiled VAE decode equals diffusers' tiled_decode", "[parity][vae][tiling]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("vae_extras/tiled_vae.safetensors"));
  auto vae = load_vae(test::fixture("pipelines/tiny-sd15/vae"), at::kFloat);
  const VaeTiling t = fixture_tiling();
  for (const std::string name : {"z_16x24", "z_32x32", "z_13x13"}) {
    at::Tensor z = ref.get("in." + name);
    REQUIRE(t.tiles_decode(z));
    at::Tensor tiled = decode_maybe_tiled(*vae, z, &t);
    auto d = test::compare(tiled, ref.get("dec.tiled." + name));
    std::cout << test::describe("tiled decode " + name, d) << "\n";
    CHECK(d.max_abs < kTol);
    // Tiling changes this tiny VAE's output a lot: the check above could not pass untiled.
    CHECK(test::compare(vae->decode(z), ref.get("dec.tiled." + name)).max_abs > 0.5);
  }
  // Batch of two (diffusers' result is the same with or without enable_slicing).
  auto d = test::compare(decode_maybe_tiled(*vae, ref.get("in.z_batch"), &t), ref.get("dec.tiled.z_batch"));
  std::cout << test::describe("tiled decode z_batch", d) << "\n";
  CHECK(d.max_abs < kTol);
}

TEST_CASE("tiled VAE blending of diffusers' raw tiles is exact", "[parity][vae][tiling]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("vae_extras/tiled_vae.safetensors"));
  // 16x24 latents: tile rows at 0, 6, 12 and columns at 0, 6, 12, 18; blend 4 px, keep 12 px.
  std::vector<at::Tensor> rows;
  std::vector<std::vector<at::Tensor>> tiles(3);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      tiles[r].push_back(ref.get("dbg.dec_tiles.z_16x24.r" + std::to_string(r) + "c" + std::to_string(c)).clone());
  for (int r = 0; r < 3; ++r) {
    std::vector<at::Tensor> kept;
    for (int c = 0; c < 4; ++c) {
      if (r > 0) blend_v(tiles[r - 1][c], tiles[r][c], 4);
      if (c > 0) blend_h(tiles[r][c - 1], tiles[r][c], 4);
      kept.push_back(tiles[r][c].slice(2, 0, 12).slice(3, 0, 12));
    }
    rows.push_back(at::cat(kept, 3));
  }
  at::Tensor out = at::cat(rows, 2);
  REQUIRE(out.equal(ref.get("dec.tiled.z_16x24")));
}

TEST_CASE("tiled VAE encode equals diffusers' tiled_encode (moments)", "[parity][vae][tiling]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("vae_extras/tiled_vae.safetensors"));
  auto vae = load_vae(test::fixture("pipelines/tiny-sd15/vae"), at::kFloat);
  const VaeTiling t = fixture_tiling();
  for (const std::string name : {"image_32x48", "image_64x64", "image_26x26"}) {
    at::Tensor x = ref.get("in." + name);
    REQUIRE(t.tiles_encode(x));
    LatentDistribution dist = encode_maybe_tiled(*vae, x, &t);
    at::Tensor expected = ref.get("enc.tiled." + name);
    auto parts = expected.chunk(2, 1);
    auto dm = test::compare(dist.mean, parts[0]);
    auto dl = test::compare(dist.logvar, parts[1].clamp(-30.0, 20.0));
    std::cout << test::describe("tiled encode mean " + name, dm) << "\n"
              << test::describe("tiled encode logvar " + name, dl) << "\n";
    CHECK(dm.max_abs < kTol);
    CHECK(dl.max_abs < kTol);
  }
}

TEST_CASE("VAE tiling settings follow diffusers' defaults and refuse mis-sizing ones", "[vae][tiling]") {
  auto vae = load_vae(test::fixture("pipelines/tiny-sd15/vae"), at::kFloat);
  const AutoencoderKLConfig& c = vae->config();  // sample_size 64, factor 2
  VaeTiling d = VaeTiling::defaults_for(c);
  CHECK(d.tile_sample_min_size == c.sample_size);
  CHECK(d.tile_latent_min_size == c.sample_size / 2);
  CHECK(d.tile_overlap_factor == 0.25);
  VaeTiling s = VaeTiling::with(c, 16, 0.25);
  CHECK(s.tile_latent_min_size == 8);
  CHECK_THROWS_AS(VaeTiling::with(c, 16, 0.3), std::invalid_argument);  // diffusers: 38x56 for 32x48
  CHECK_THROWS_AS(VaeTiling::with(c, 15, 0.25), std::invalid_argument);
  CHECK_THROWS_AS(VaeTiling::with(c, 16, 1.0), std::invalid_argument);
  // Inputs no larger than a tile take the plain path, as diffusers' decode()/encode().
  at::NoGradGuard no_grad;
  at::Tensor z = at::randn({1, 4, 8, 8});
  CHECK_FALSE(s.tiles_decode(z));
  CHECK(decode_maybe_tiled(*vae, z, &s).equal(vae->decode(z)));
}
