// generate's ControlNet flags (see cli_controlnet.h).
#include "runtime/cli_controlnet.h"

#include <CLI/CLI.hpp>
#include <filesystem>

#include "model/image/image_io.h"
#include "model/loading/controlnet_folder.h"

namespace sdw {
namespace {

// A per-net value: `values` empty (the default), one (every net) or one per net.
template <class T>
T per_net(const std::vector<T>& values, size_t i, size_t nets, T fallback, const char* flag) {
  if (values.empty()) return fallback;
  if (values.size() == 1) return values[0];
  if (values.size() != nets)
    throw RequestError(std::string(flag) + " is given " + std::to_string(values.size()) + " times for " +
                       std::to_string(nets) + " ControlNets (give it once, or once per --controlnet)");
  return values[i];
}

}  // namespace

void add_controlnet_options(CLI::App& app, ControlNetArgs& a) {
  app.add_option("--controlnet", a.nets, "a diffusers ControlNet folder or single .safetensors file (SD1.x/2.x and SDXL: txt2img, or "
                 "img2img/inpaint with --init-image); repeatable: MultiControlNet")
      ->allow_extra_args(false)
      ->check(CLI::ExistingPath);  // a diffusers folder or a single .safetensors file
  app.add_option("--control-image", a.images, "the control image of each --controlnet, in order (e.g. an edge map)")
      ->allow_extra_args(false)
      ->check(CLI::ExistingFile);
  app.add_option("--control-scale", a.scales, "controlnet_conditioning_scale in [0, 2] (default 1); once, or once per net")
      ->allow_extra_args(false);
  app.add_option("--control-start", a.starts, "control_guidance_start in [0, 1) (default 0); once, or once per net")
      ->allow_extra_args(false);
  app.add_option("--control-end", a.ends, "control_guidance_end in (0, 1] (default 1); once, or once per net")
      ->allow_extra_args(false);
  app.add_option("--control-preprocess", a.preprocess,
                 "none (the image is the control image) or canny (OpenCV's edges of the image); once, or once per net")
      ->allow_extra_args(false)
      ->check(CLI::IsMember({"none", "canny"}));
  app.add_option("--canny-low", a.canny_low, "canny's low threshold, 0..255 (default 100); once, or once per net")
      ->allow_extra_args(false);
  app.add_option("--canny-high", a.canny_high, "canny's high threshold, 0..255 (default 200); once, or once per net")
      ->allow_extra_args(false);
  app.add_flag("--guess-mode", a.guess_mode, "ControlNet guess mode: only the conditional batch gets the residuals");
}

void apply_controlnet_args(const ControlNetArgs& a, GenerationRequest& r) {
  if (a.images.size() != a.nets.size())
    throw RequestError("--control-image is given " + std::to_string(a.images.size()) + " times for " +
                       std::to_string(a.nets.size()) + " --controlnet (one image per ControlNet)");
  if (a.nets.empty() && (!a.scales.empty() || !a.starts.empty() || !a.ends.empty() || !a.preprocess.empty() ||
                         !a.canny_low.empty() || !a.canny_high.empty()))
    throw RequestError("--control-scale/--control-start/--control-end/--control-preprocess/--canny-* need a --controlnet");
  const size_t n = a.nets.size();
  for (size_t i = 0; i < n; ++i) {
    ControlNetUse use;
    use.path = a.nets[i];
    use.name = controlnet_name(a.nets[i]);
    use.image = load_image(a.images[i]);
    use.scale = per_net(a.scales, i, n, 1.0, "--control-scale");
    use.start = per_net(a.starts, i, n, 0.0, "--control-start");
    use.end = per_net(a.ends, i, n, 1.0, "--control-end");
    use.preprocess = per_net(a.preprocess, i, n, std::string("none"), "--control-preprocess");
    use.canny_low = per_net(a.canny_low, i, n, 100.0, "--canny-low");
    use.canny_high = per_net(a.canny_high, i, n, 200.0, "--canny-high");
    r.controlnets.push_back(std::move(use));
  }
  r.guess_mode = a.guess_mode;
}

}  // namespace sdw
