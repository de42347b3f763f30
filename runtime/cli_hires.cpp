// `generate`'s hires fix flags (see cli_hires.h).
#include "runtime/cli_hires.h"

#include <CLI/CLI.hpp>

#include <stdexcept>

namespace sdw {

void add_hires_options(CLI::App& app, HiresArgs& a) {
  app.add_option("--hires-scale", a.scale, "hires fix: the second pass's size as a multiple of the first (1 < x <= 4)")
      ->check(CLI::Range(0.0, 4.0));
  app.add_option("--hires-width", a.width, "hires fix: the second pass's width (A1111's hr_resize_x)")
      ->check(CLI::Range(8, 8192));
  app.add_option("--hires-height", a.height, "hires fix: the second pass's height (A1111's hr_resize_y)")
      ->check(CLI::Range(8, 8192));
  app.add_option("--hires-strength", a.strength, "hires fix: the second pass's denoising strength (default 0.75)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--hires-steps", a.steps, "hires fix: the second pass's steps (default: --steps)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--hires-upscaler", a.upscaler,
                 "hires fix: latent (A1111's \"Latent\", bilinear), latent-nearest or lanczos (the decoded image)");
  app.add_option("--hires-prompt", a.prompt, "hires fix: the second pass's prompt (default: --prompt)")
      ->each([&a](const std::string&) { a.has_prompt = true; });
  app.add_option("--hires-negative-prompt", a.negative_prompt,
                 "hires fix: the second pass's negative prompt (default: --negative-prompt)")
      ->each([&a](const std::string&) { a.has_negative = true; });
}

std::optional<HiresOptions> hires_from_args(const HiresArgs& a) {
  if (a.scale == 0 && a.width == 0 && a.height == 0) return std::nullopt;
  HiresOptions h;
  if (a.scale != 0) h.scale = a.scale;
  h.width = a.width;
  h.height = a.height;
  h.strength = a.strength;
  h.steps = a.steps;
  try {
    h.upscaler = parse_hires_upscaler(a.upscaler);
  } catch (const std::invalid_argument& e) {
    throw RequestError(std::string("--hires-upscaler: ") + e.what());
  }
  if (a.has_prompt) h.prompt = a.prompt;
  if (a.has_negative) h.negative_prompt = a.negative_prompt;
  return h;
}

}  // namespace sdw
