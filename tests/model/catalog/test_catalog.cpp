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
}
