// The settings of A1111's "hires fix" for one txt2img request (model/pipeline/hires_fix.h runs it):
// the target size (a scale, or A1111's hr_resize_x / hr_resize_y), the upscaler, the second
// pass's denoising strength and steps, and its optional own prompts.
#pragma once

#include <optional>
#include <string>

namespace sdw {

// A1111's "Latent" (bilinear), "Latent (nearest)" (latent upscale modes: F.interpolate, antialias
// off) and "Lanczos" (the decoded image resized with Pillow's Lanczos, then encoded again).
enum class HiresUpscaler { latent, latent_nearest, lanczos };

// A1111's name: "Latent", "Latent (nearest)", "Lanczos".
const char* hires_upscaler_name(HiresUpscaler upscaler);
// "latent", "latent-nearest", "lanczos" or A1111's names; throws std::invalid_argument naming the
// accepted ones.
HiresUpscaler parse_hires_upscaler(const std::string& name);

struct HiresOptions {
  double scale = 2.0;          // A1111's hr_scale (used when width and height are 0)
  int width = 0, height = 0;   // hr_resize_x / hr_resize_y; one alone: the other keeps the aspect
  double strength = 0.75;      // the second pass's denoising strength (A1111's denoising_strength)
  int steps = 0;               // hr_second_pass_steps; 0: the first pass's steps
  HiresUpscaler upscaler = HiresUpscaler::latent;
  std::optional<std::string> prompt, negative_prompt;  // hr_prompt / hr_negative_prompt; nullopt: the first's
};

}  // namespace sdw
