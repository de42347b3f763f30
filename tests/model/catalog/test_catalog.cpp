// The model catalog: every version rbee names is present with the contract's repo ids and
// sensible defaults, and the memory estimate grows with precision and size.
#include <catch.hpp>

#include "model/catalog/catalog.h"

using namespace sdw;

TEST_CASE("every rbee version name is in the catalog with its repo", "[catalog]") {
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"v1-5", "runwayml/stable-diffusion-v1-5"},
      {"v1-5-inpaint", "stable-diffusion-v1-5/stable-diffusion-inpainting"},
      {"v2-1", "stabilityai/stable-diffusion-2-1"},
      {"v2-inpaint", "stabilityai/stable-diffusion-2-inpainting"},
      {"xl", "stabilityai/stable-diffusion-xl-base-1.0"},
      {"xl-inpaint", "diffusers/stable-diffusion-xl-1.0-inpainting-0.1"},
      {"turbo", "stabilityai/sdxl-turbo"},
      {"sd-turbo", "stabilityai/sd-turbo"},
  };
  for (const auto& [version, repo] : expected) {
    INFO(version);
    auto e = find_catalog_entry(version);
    REQUIRE(e.has_value());
    REQUIRE(e->repo == repo);
    REQUIRE(find_catalog_entry(repo)->version == version);
    REQUIRE(e->parameters > 1000000000);
    REQUIRE(e->width % 8 == 0);
  }
  REQUIRE(find_catalog_entry("v1-5-inpaint")->inpainting);
  REQUIRE(find_catalog_entry("sd-turbo")->steps == 1);
  REQUIRE(find_catalog_entry("sd-turbo")->guidance == 0.0);
  REQUIRE(find_catalog_entry("v2-1")->width == 768);
  REQUIRE_FALSE(find_catalog_entry("v9-9").has_value());
}

TEST_CASE("memory estimates grow with precision and size", "[catalog]") {
  const auto sd15 = *find_catalog_entry("v1-5");
  const int64_t fp16_512 = estimate_memory_bytes(sd15, 2, 512, 512);
  const int64_t fp32_512 = estimate_memory_bytes(sd15, 4, 512, 512);
  const int64_t fp16_768 = estimate_memory_bytes(sd15, 2, 768, 768);
  REQUIRE(fp16_512 < fp32_512);
  REQUIRE(fp16_512 < fp16_768);
  // SD1.5 in fp16 at 512: 2.3 GB of weights plus activations; well under 8 GB.
  REQUIRE(fp16_512 > 2'300'000'000);
  REQUIRE(fp16_512 < 8'000'000'000);
  const auto xl = *find_catalog_entry("xl");
  REQUIRE(estimate_memory_bytes(xl, 2, 1024, 1024) > fp16_512 * 2);
  // SDXL at 1024 in fp16: 7.1 GB of weights, 3.2 GB of VAE decode, 0.6 GB of UNet features; its
  // first attention level (64x64 tokens, 10 heads) adds 0.7 GB, not the 8.6 GB an SD1-style
  // attention over all 128x128 latents would (11.6 GB in all, not 19.6).
  REQUIRE(estimate_memory_bytes(xl, 2, 1024, 1024) < 12'000'000'000);
}

TEST_CASE("SDXL catalog defaults: base and inpainting at 1024, turbo at 512 in one step without guidance", "[catalog][sdxl]") {
  const auto xl = *find_catalog_entry("xl");
  CHECK(xl.family == "sdxl");
  CHECK(xl.width == 1024);
  CHECK(xl.height == 1024);
  CHECK(xl.guidance == 5.0);  // StableDiffusionXLPipeline's default
  const auto inpaint = *find_catalog_entry("xl-inpaint");
  CHECK(inpaint.inpainting);
  CHECK(inpaint.width == 1024);
  const auto turbo = *find_catalog_entry("turbo");
  CHECK(turbo.width == 512);
  CHECK(turbo.steps >= 1);
  CHECK(turbo.steps <= 4);
  CHECK(turbo.guidance == 0.0);
  CHECK(turbo.scheduler.empty());  // the repo's own: EulerAncestralDiscreteScheduler, trailing
}
