// Cheap previews of a job's latents between steps: the usual linear latent -> RGB approximation
// (a 4x3 matrix per model family, as A1111's "Approx cheap" and ComfyUI's latent_rgb_factors),
// at latent resolution (1/8 of the image), instead of a VAE decode. Optionally a full VAE decode.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "model/image/image_io.h"
#include "model/pipeline/sd_model.h"

namespace sdw::actors {

// The first image of `latents` [N, 4, h, w] as an 8-bit RGB image of h x w pixels.
// `family` picks the matrix ("sdxl" or the SD1.x/2.x one for everything else).
Image latent_preview(const at::Tensor& latents, const std::string& family);

// The first image through the VAE (slow: a full decode).
Image vae_preview(SdModel& model, const at::Tensor& latents);

}  // namespace sdw::actors
