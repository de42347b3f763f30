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
// SD3's 16-channel latents (ComfyUI latent_formats.SD3), applied to the latents the transformer
// denoises (after the VAE's shift and scale, as ComfyUI's sampler sees them).
constexpr float kSd3Factors[16][3] = {
    {-0.0922f, -0.0175f, 0.0749f}, {0.0311f, 0.0633f, 0.0954f},   {0.1994f, 0.0927f, 0.0458f},
    {0.0856f, 0.0339f, 0.0902f},   {0.0587f, 0.0272f, -0.0496f},  {-0.0006f, 0.1104f, 0.0309f},
    {0.0978f, 0.0306f, 0.0427f},   {-0.0042f, 0.1038f, 0.1358f},  {-0.0194f, 0.0020f, 0.0669f},
    {-0.0488f, 0.0130f, -0.0268f}, {0.0922f, 0.0988f, 0.0951f},   {-0.0278f, 0.0524f, -0.0542f},
    {0.0332f, 0.0456f, 0.0895f},   {-0.0069f, -0.0030f, -0.0810f}, {-0.0596f, -0.0465f, -0.0293f},
    {-0.1448f, -0.1463f, -0.1189f},
};
constexpr float kSd3Bias[3] = {0.2394f, 0.2135f, 0.1925f};

struct LatentFactors {
  const float* matrix;  // [channels, 3]
  int64_t channels;
  const float* bias;    // [3] or null
};

LatentFactors factors_for(const std::string& family) {
  if (family == "sd3") return {&kSd3Factors[0][0], 16, kSd3Bias};
  if (family == "sdxl") return {&kSdxlFactors[0][0], 4, kSdxlBias};
  return {&kSd15Factors[0][0], 4, nullptr};
}

}  // namespace

Image latent_preview(const at::Tensor& latents, const std::string& family) {
  c10::InferenceMode guard;
  const LatentFactors f = factors_for(family);
  at::Tensor factors = at::from_blob(const_cast<float*>(f.matrix), {f.channels, 3}, at::kFloat);
  at::Tensor x = latents[0].to(at::kCPU, at::kFloat);  // [C, h, w]
  if (x.size(0) != f.channels)
    throw std::invalid_argument("latent preview of a " + family + " model needs " + std::to_string(f.channels) +
                                " latent channels, got " + std::to_string(x.size(0)));
  at::Tensor rgb = at::tensordot(x.permute({1, 2, 0}), factors, {2}, {0});  // [h, w, 3] in about [-1, 1]
  if (f.bias) rgb = rgb + at::from_blob(const_cast<float*>(f.bias), {3}, at::kFloat);
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
