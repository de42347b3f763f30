// Latent previews (see preview.h).
#include "actors/preview.h"

#include <c10/core/InferenceMode.h>

#include "model/pipeline/stages.h"

namespace sdw::actors {
namespace {

// Rows: latent channels 0..3, columns: R, G, B (ComfyUI latent_formats.SD15 / SDXL).
constexpr float kSd15Factors[4][3] = {
    {0.3512f, 0.2297f, 0.3227f},
    {0.3250f, 0.4974f, 0.2350f},
    {-0.2829f, 0.1762f, 0.2721f},
    {-0.2120f, -0.2616f, -0.7177f},
};
constexpr float kSdxlFactors[4][3] = {
    {0.3651f, 0.4232f, 0.4341f},
    {-0.2533f, -0.0042f, 0.1068f},
    {0.1076f, 0.1111f, -0.0362f},
    {-0.3165f, -0.2492f, -0.2188f},
};
constexpr float kSdxlBias[3] = {0.1084f, -0.0175f, -0.0011f};

}  // namespace

Image latent_preview(const at::Tensor& latents, const std::string& family) {
  c10::InferenceMode guard;
  const bool sdxl = family == "sdxl";
  at::Tensor factors = at::from_blob(const_cast<float*>(&(sdxl ? kSdxlFactors : kSd15Factors)[0][0]), {4, 3}, at::kFloat);
  at::Tensor x = latents[0].to(at::kCPU, at::kFloat);  // [4, h, w]
  if (x.size(0) != 4) throw std::invalid_argument("latent preview needs 4 latent channels, got " + std::to_string(x.size(0)));
  at::Tensor rgb = at::tensordot(x.permute({1, 2, 0}), factors, {2}, {0});  // [h, w, 3] in about [-1, 1]
  if (sdxl) rgb = rgb + at::from_blob(const_cast<float*>(kSdxlBias), {3}, at::kFloat);
  at::Tensor u8 = ((rgb + 1.0) * 127.5).round().clamp(0, 255).to(at::kByte).contiguous();
  Image img;
  img.height = static_cast<int>(u8.size(0));
  img.width = static_cast<int>(u8.size(1));
  img.channels = 3;
  img.pixels.assign(u8.data_ptr<uint8_t>(), u8.data_ptr<uint8_t>() + u8.numel());
  return img;
}

Image vae_preview(SdModel& model, const at::Tensor& latents) {
  return to_images(decode_latents(model, latents.slice(0, 0, 1)))[0];
}

}  // namespace sdw::actors
