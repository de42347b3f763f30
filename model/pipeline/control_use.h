// One ControlNet a request asks for (diffusers' StableDiffusionControlNetPipeline arguments for
// one net of a MultiControlNet): the ControlNet folder, its control image and how strongly and
// when it acts. Plain C++ (no libtorch), so the request vocabulary net/ and the actors share can
// carry it.
#pragma once

#include <string>

#include "model/image/image_io.h"

namespace sdw {

struct ControlNetUse {
  std::string path;   // a diffusers ControlNet folder (resolved by the caller)
  std::string name;   // what the parameters text calls it (the folder name when empty)
  Image image;        // the control image; resized to the request's size by resolve_request
  // The control image as sent (kept by resolve_request before it resizes `image`): a hires fix's
  // second pass resizes and preprocesses it again at its own size, as sd-webui-controlnet does.
  Image source;
  double scale = 1.0;  // controlnet_conditioning_scale
  double start = 0.0;  // control_guidance_start: fraction of the UNet calls before it acts
  double end = 1.0;    // control_guidance_end: fraction after which it stops
  // The preprocessor run on the image after it is resized: "none" (used as given) or "canny"
  // (model/preprocess/canny.h, with these thresholds).
  std::string preprocess = "none";
  double canny_low = 100, canny_high = 200;
  bool preprocessed = false;  // set once `image` holds the preprocessor's output
};

}  // namespace sdw
