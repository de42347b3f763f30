// TAESD (AutoencoderTiny, model/nets/autoencoder_tiny.h) beside a model's VAE: as the final
// decoder (`--final-decoder taesd --taesd DIR`: it then replaces the VAE for decode AND encode, as
// diffusers' pipelines given vae=AutoencoderTiny: latents in diffusion space with no scaling
// factor, the latent size from TAESD's factor, no posterior draw for an init image) and for
// previews (`--preview-decoder taesd`: real-looking previews between steps at a fraction of the
// VAE's cost).
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "model/image/image_io.h"
#include "model/pipeline/sd_model.h"

namespace sdw {

// Loads `options.taesd_dir` onto the model's device when --final-decoder taesd or
// --preview-decoder taesd asks for it; checks the words. Throws std::invalid_argument / LoadError.
void attach_taesd(SdModel& model, const MemoryOptions& options);

// taesd.decode(latents / 1.0) post-processed as decode_latents: [N, 4, h, w] -> [N, H, W, 3] in [0, 1] on the CPU.
at::Tensor taesd_decode_latents(SdModel& model, const at::Tensor& latents);
// 1.0 * taesd.encode(image).latents: image [1, 3, H, W] in [-1, 1] -> [1, 4, H/8, W/8].
at::Tensor taesd_encode_latents(SdModel& model, const at::Tensor& image);
// The first image of `latents` through TAESD (a preview).
Image taesd_preview(SdModel& model, const at::Tensor& latents);

}  // namespace sdw
