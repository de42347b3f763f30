// A tiny SDXL ControlNet made from the tiny-sdxl fixture's UNet the way diffusers'
// ControlNetModel.from_unet makes one (the fixtures hold no SDXL ControlNet): the config is the
// UNet's encoder half (text_time added embedding, transformer_layers_per_block, linear projections,
// heads) with conditioning_embedding_out_channels sized to the VAE factor; conv_in, time_embedding,
// add_embedding, down_blocks and mid_block are copies of the UNet's tensors; the conditioning
// embedding and the zero convolutions are drawn from libtorch's generator with a fixed seed, or left
// at zero as from_unet leaves them. Written as a real diffusers folder (config.json +
// diffusion_pytorch_model.safetensors). Shared by the SDXL ControlNet model and e2e tests.
#pragma once

#include <string>

#include "test_util.h"

namespace sdw::test {

struct TinySdxlControlNetOptions {
  // The 1x1 zero convolutions (controlnet_down_blocks.*, controlnet_mid_block): "zero" (from_unet),
  // "identity" (weight = I, bias 0: the residuals are the skip tensors themselves) or "random".
  std::string zero_convs = "zero";
  // controlnet_cond_embedding.conv_out: zero (from_unet's zero_module) unless set.
  bool random_cond_out = false;
  unsigned seed = 1234;
};

// Writes the folder as `<tmp>/<name>` and returns its path.
std::string make_tiny_sdxl_controlnet(const TempDir& tmp, const std::string& name,
                                      const TinySdxlControlNetOptions& options = {});

}  // namespace sdw::test
