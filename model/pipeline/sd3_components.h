// Loading SD3's own components from a diffusers folder: `text_encoder_3` (transformers'
// T5EncoderModel) and `transformer` (SD3Transformer2DModel), strictly by name like
// model/loading/diffusers_folder.h does for the CLIP, UNet and VAE components.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "model/nets/sd3_transformer_2d.h"
#include "model/nets/t5_encoder.h"

namespace sdw {

// Builds the T5 encoder from `<dir>/config.json` and loads `shared.weight` (or the tied
// `encoder.embed_tokens.weight`, which transformers' from_pretrained also accepts). Throws LoadError.
T5EncoderModel load_t5_encoder(const std::string& dir, const at::TensorOptions& options, const std::string& variant = "");
// Builds the MMDiT from `<dir>/config.json` and loads every tensor, pos_embed.pos_embed included.
SD3Transformer2DModel load_sd3_transformer(const std::string& dir, const at::TensorOptions& options,
                                           const std::string& variant = "");

}  // namespace sdw
