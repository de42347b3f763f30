// The settings of A1111's "hires fix" for one txt2img request (model/pipeline/hires_fix.h runs it):
// the target size (a scale, or A1111's hr_resize_x / hr_resize_y), the upscaler, the second
// pass's denoising strength and steps, and its optional own prompts.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace sdw {

// A1111's "Latent" (bilinear), "Latent (nearest)" (latent upscale modes: F.interpolate, antialias
// off) and "Lanczos" (the decoded image resized with Pillow's Lanczos, then encoded again).
enum class HiresUpscaler { latent, latent_nearest, lanczos };

// A1111's name: "Latent", "Latent (nearest)", "Lanczos".
inline const char* hires_upscaler_name(HiresUpscaler upscaler) {
  switch (upscaler) {
    case HiresUpscaler::latent: return "Latent";
    case HiresUpscaler::latent_nearest: return "Latent (nearest)";
    case HiresUpscaler::lanczos: return "Lanczos";
  }
  return "Latent";
}

// "latent", "latent-nearest", "lanczos" or A1111's names; throws std::invalid_argument naming the
// accepted ones.
inline HiresUpscaler parse_hires_upscaler(const std::string& name) {
  if (name == "latent" || name == "Latent") return HiresUpscaler::latent;
  if (name == "latent-nearest" || name == "Latent (nearest)") return HiresUpscaler::latent_nearest;
  if (name == "lanczos" || name == "Lanczos") return HiresUpscaler::lanczos;
  throw std::invalid_argument("unknown hires upscaler '" + name.substr(0, 60) +
                              "'; this worker has latent (A1111's \"Latent\"), latent-nearest (\"Latent (nearest)\") "
                              "and lanczos (\"Lanczos\")");
}

struct HiresOptions {
  double scale = 2.0;          // A1111's hr_scale (used when width and height are 0)
  int width = 0, height = 0;   // hr_resize_x / hr_resize_y; one alone: the other keeps the aspect
  double strength = 0.75;      // the second pass's denoising strength (A1111's denoising_strength)
  int steps = 0;               // hr_second_pass_steps; 0: the first pass's steps
  HiresUpscaler upscaler = HiresUpscaler::latent;
  std::optional<std::string> prompt, negative_prompt;  // hr_prompt / hr_negative_prompt; nullopt: the first's
};

// A1111's target size (StableDiffusionProcessingTxt2Img.init): int(side * scale), or hr_resize_x /
// hr_resize_y (one alone: the other from the first pass's aspect, rounded down as A1111's `//`;
// both: that size). Returns (width, height).
inline std::pair<int, int> hires_target_size(const HiresOptions& h, int width, int height) {
  if (h.width == 0 && h.height == 0) return {static_cast<int>(width * h.scale), static_cast<int>(height * h.scale)};
  if (h.height == 0) return {h.width, static_cast<int>(static_cast<int64_t>(h.width) * height / width)};
  if (h.width == 0) return {static_cast<int>(static_cast<int64_t>(h.height) * width / height), h.height};
  return {h.width, h.height};
}

}  // namespace sdw
