// AUTOMATIC1111 API (`/sdapi/v1`) requests -> the worker's jobs, and its answers: txt2img and
// img2img bodies with A1111's field names and defaults, mapped onto rbee Operations and validated
// by the rbee parser (errors renamed back to A1111's fields), one job per image (n_iter x
// batch_size jobs, image k from seed + k, as A1111 seeds them); prompts read with A1111's syntax
// (PromptSyntax::a1111); the `info` JSON string; A1111's sampler names. Pure functions; the
// handlers are in a1111_handlers.h. What is honoured: docs/a1111-api.md.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "net/http/operations.h"

namespace sdw::net {

struct A1111Request {
  std::vector<JobRequest> iterations;  // n_iter * batch_size jobs of one image each; seeds seed + k
  nlohmann::json parameters;           // the request with A1111's defaults filled in (the `parameters` echo)
  bool img2img = false;
  uint64_t seed = 0;                   // the first iteration's (drawn here when the request said -1)
  int batch_size = 1, n_iter = 1;
  double denoising_strength = 0;       // img2img
  std::string sampler_name;            // as asked ("" the model's own)
  bool mask_invert = false;            // img2img: inpainting_mask_invert
  int mask_blur = 4;                   // img2img: mask_blur
  // img2img with a mask: the init image (RGB) and the prepared mask (a1111_mask), at their own size,
  // for the overlay of the answer's images (apply_a1111_overlay); empty otherwise.
  Image overlay_original, overlay_mask;
};

// A1111's mask before inpainting (processing.py, StableDiffusionProcessingImg2Img.init): gray,
// binarised (> 128 -> 255, create_binary_mask with mask_round), inverted when `invert`
// (inpainting_mask_invert 1: "inpaint not masked"), then blurred by `blur` (mask_blur, cv2's
// GaussianBlur: model/image/gaussian_blur.h). The pipeline then resizes it and keeps the pixels
// >= 128 as the area to repaint, as A1111 rounds its latent mask.
Image a1111_mask(const Image& mask, bool invert, int blur);

// A1111's last inpainting step on the completed jobs' PNGs: the original pasted back through the
// prepared mask (both resized to the images' size with Pillow's Lanczos when it differs), so only
// the masked area changes and mask_blur softens its edge (model/image/mask_overlay.h); each PNG
// keeps its parameters text. Nothing without a mask.
void apply_a1111_overlay(const A1111Request& request, std::vector<JobEvent>& completed);

// Throw ApiError 400 naming A1111's field.
A1111Request parse_a1111_txt2img(const nlohmann::json& body, const ParseOptions& options);
A1111Request parse_a1111_img2img(const nlohmann::json& body, const ParseOptions& options);

// A1111's display name of a canonical scheduler name ("euler_a" -> "Euler a").
std::string a1111_sampler_name(const std::string& canonical);

// {"images": [base64 PNG...], "parameters": {...}, "info": "<JSON text>"} for the completed jobs'
// events (in iteration order; skipped iterations left out). `info` carries seed, all_seeds,
// all_prompts, infotexts (each PNG's parameters text), sampler_name, cfg_scale, steps, ...
nlohmann::json a1111_response(const A1111Request& request, const std::vector<JobEvent>& completed,
                              const std::string& model_name, bool interrupted);

}  // namespace sdw::net
