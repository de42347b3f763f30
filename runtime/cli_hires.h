// `generate`'s hires fix flags (A1111's hires fix, model/pipeline/hires_fix.h): --hires-scale or
// --hires-width / --hires-height turn it on; --hires-strength, --hires-steps, --hires-upscaler
// (latent | latent-nearest | lanczos), --hires-prompt and --hires-negative-prompt set the second
// pass.
#pragma once

#include <optional>
#include <string>

#include "model/pipeline/request.h"

namespace CLI {
class App;
}

namespace sdw {

struct HiresArgs {
  double scale = 0;  // 0: not given
  int width = 0, height = 0;
  double strength = 0.75;
  int steps = 0;
  std::string upscaler = "latent";
  std::string prompt, negative_prompt;
  bool has_prompt = false, has_negative = false;
};

void add_hires_options(CLI::App& app, HiresArgs& args);

// The request's hires settings, or nullopt when no --hires-scale / --hires-width / --hires-height
// was given. Throws RequestError for an unknown upscaler.
std::optional<HiresOptions> hires_from_args(const HiresArgs& args);

}  // namespace sdw
