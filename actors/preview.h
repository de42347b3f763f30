// Cheap previews of a job's latents between steps: the usual linear latent -> RGB approximation
// (a Cx3 matrix per model family, as A1111's "Approx cheap" and ComfyUI's latent_rgb_factors:
// 4x3 for SD1.x/2.x and SDXL, 16x3 plus a bias for SD3),
// at latent resolution (1/8 of the image), instead of a VAE decode. Optionally a full VAE decode.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "model/image/image_io.h"
#include "model/pipeline/sd_model.h"

namespace sdw::actors {

// The first image of `latents` [N, C, h, w] as an 8-bit RGB image of h x w pixels. `family` picks
// the matrix ("sd3": C = 16, "sdxl", else the SD1.x/2.x one: C = 4); another C is invalid_argument.
Image latent_preview(const at::Tensor& latents, const std::string& family);

// The first image through the VAE (slow: a full decode).
Image vae_preview(SdModel& model, const at::Tensor& latents);

}  // namespace sdw::actors
