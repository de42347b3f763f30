// The model catalog (see catalog.h). Parameter counts are those of the released architectures
// (tests/fixtures/manifests reproduce them).
#include "model/catalog/catalog.h"

namespace sdw {
namespace {

constexpr int64_t kSd1Params = 859520964 + 83653863 + 123060480;
constexpr int64_t kSd1InpaintParams = 859535364 + 83653863 + 123060480;
constexpr int64_t kSd2Params = 865910724 + 83653863 + 340387840;
constexpr int64_t kSdxlParams = 2567463684 + 83653863 + 123060480 + 694659840;
// SD3 Medium: MMDiT + 16-channel VAE + CLIP-L and CLIP-G (with projections) + T5-XXL encoder.
constexpr int64_t kSd3Params = int64_t{2028328000} + 83819683 + 123650304 + 694659840 + 4762310656;

std::vector<CatalogEntry> make_catalog() {
  std::vector<CatalogEntry> c;
  auto add = [&](CatalogEntry e) { c.push_back(std::move(e)); };
  add({"v1-5", "runwayml/stable-diffusion-v1-5", "sd1", false, 512, 512, 20, 7.5, "", kSd1Params});
  add({"v1-5-inpaint", "stable-diffusion-v1-5/stable-diffusion-inpainting", "sd1", true, 512, 512, 20, 7.5, "", kSd1InpaintParams});
  add({"v2-1", "stabilityai/stable-diffusion-2-1", "sd2", false, 768, 768, 20, 7.5, "", kSd2Params});
  add({"v2-inpaint", "stabilityai/stable-diffusion-2-inpainting", "sd2", true, 512, 512, 20, 7.5, "", kSd2Params + 14400});
  add({"sd-turbo", "stabilityai/sd-turbo", "sd2", false, 512, 512, 1, 0.0, "", kSd2Params});
  add({"xl", "stabilityai/stable-diffusion-xl-base-1.0", "sdxl", false, 1024, 1024, 30, 5.0, "", kSdxlParams});
  add({"xl-inpaint", "diffusers/stable-diffusion-xl-1.0-inpainting-0.1", "sdxl", true, 1024, 1024, 30, 8.0, "", kSdxlParams + 28800});
  add({"turbo", "stabilityai/sdxl-turbo", "sdxl", false, 512, 512, 1, 0.0, "", kSdxlParams});
  add({"sd3-medium", "stabilityai/stable-diffusion-3-medium-diffusers", "sd3", false, 1024, 1024, 28, 7.0, "", kSd3Params});
  add({"demo", "", "demo", false, 256, 256, 8, 7.5, "", 0});
  return c;
}

}  // namespace

const std::vector<CatalogEntry>& catalog() {
  static const std::vector<CatalogEntry> entries = make_catalog();
  return entries;
}

std::optional<CatalogEntry> find_catalog_entry(const std::string& name) {
  for (const auto& e : catalog())
    if (e.version == name || (!e.repo.empty() && e.repo == name)) return e;
  return std::nullopt;
}

std::vector<std::string> catalog_versions() {
  std::vector<std::string> out;
  for (const auto& e : catalog()) out.push_back(e.version);
  return out;
}

constexpr int64_t kVaeParams = 83653863;

int64_t non_vae_weight_bytes(const CatalogEntry& e, int bytes_per_param) {
  return e.parameters > kVaeParams ? (e.parameters - kVaeParams) * bytes_per_param : 0;
}

int64_t estimate_memory_bytes(const CatalogEntry& e, int bytes_per_param, int width, int height) {
  const int64_t vae_params = kVaeParams;
  const int64_t weights = (e.parameters - vae_params) * bytes_per_param + vae_params * 4;
  // Activations: the UNet's largest attention (batch 2, 8 heads, (h*w)^2 scores; SDXL's first
  // attention level is at half the latent size, with 10 heads) and feature maps (batch 2, 320
  // channels at latent size, ~30 live), and the VAE decode (128 channels at full size, ~6 live).
  const int64_t lat = static_cast<int64_t>(width / 8) * (height / 8);
  const bool sdxl = e.family == "sdxl";
  // SD3's MMDiT: 2x2 patches, 24 heads over the image tokens plus 77 + 256 text tokens.
  const bool sd3 = e.family == "sd3";
  const int64_t tokens = sdxl ? lat / 4 : sd3 ? lat / 4 + 333 : lat;
  const int64_t attention = 2 * (sdxl ? 10 : sd3 ? 24 : 8) * tokens * tokens * bytes_per_param;
  const int64_t features = 2 * 320 * lat * 30 * bytes_per_param;
  const int64_t vae = static_cast<int64_t>(width) * height * 128 * 6 * 4;
  return weights + attention + features + vae;
}

}  // namespace sdw
