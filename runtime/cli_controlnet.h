// `generate`'s ControlNet flags: --controlnet DIR and --control-image PNG (repeatable, one image
// per net, in order), --control-scale / --control-start / --control-end / --control-preprocess /
// --canny-low / --canny-high (given once: for every net; or once per net) and --guess-mode,
// turned into the request's ControlNetUse list.
#pragma once

#include <string>
#include <vector>

#include "model/pipeline/request.h"

namespace CLI {
class App;
}

namespace sdw {

struct ControlNetArgs {
  std::vector<std::string> nets, images;
  std::vector<double> scales, starts, ends;
  std::vector<std::string> preprocess;  // "none" | "canny"
  std::vector<double> canny_low, canny_high;
  bool guess_mode = false;
};

void add_controlnet_options(CLI::App& app, ControlNetArgs& args);

// Fills request.controlnets and guess_mode; reads the control images. Throws RequestError for
// counts that do not match (an image per net; per-net values once or once per net).
void apply_controlnet_args(const ControlNetArgs& args, GenerationRequest& request);

}  // namespace sdw
