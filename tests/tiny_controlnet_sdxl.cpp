// The tiny SDXL ControlNet folder (see tiny_controlnet_sdxl.h).
#include "tiny_controlnet_sdxl.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "model/loading/diffusers_folder.h"
#include "model/loading/state_dict.h"
#include "model/nets/controlnet.h"
#include "model/safetensors/safetensors.h"

namespace fs = std::filesystem;

namespace sdw::test {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

}  // namespace

std::string make_tiny_sdxl_controlnet(const TempDir& tmp, const std::string& name, const TinySdxlControlNetOptions& o) {
  const std::string unet_dir = fixture("pipelines/tiny-sdxl/unet");
  const nlohmann::json u = read_json_file(unet_dir + "/config.json");
  // diffusers' ControlNetModel.from_unet: the UNet config's encoder fields, passed on by name.
  nlohmann::json c = {{"_class_name", "ControlNetModel"}, {"_diffusers_version", "0.30.3"}};
  for (const char* key : {"in_channels", "flip_sin_to_cos", "freq_shift", "down_block_types", "only_cross_attention",
                          "block_out_channels", "layers_per_block", "downsample_padding", "mid_block_scale_factor",
                          "act_fn", "norm_num_groups", "norm_eps", "cross_attention_dim", "transformer_layers_per_block",
                          "encoder_hid_dim", "encoder_hid_dim_type", "attention_head_dim", "num_attention_heads",
                          "use_linear_projection", "class_embed_type", "addition_embed_type", "addition_time_embed_dim",
                          "num_class_embeds", "upcast_attention", "resnet_time_scale_shift",
                          "projection_class_embeddings_input_dim", "mid_block_type"})
    c[key] = u.at(key);
  c["conditioning_channels"] = 3;
  c["controlnet_conditioning_channel_order"] = "rgb";
  c["conditioning_embedding_out_channels"] = {16, 32};  // downscale 2: the tiny VAE's factor
  c["global_pool_conditions"] = false;

  // The tensor names and shapes of that config; the UNet's own tensors where from_unet copies them.
  const ControlNetModel shapes(ControlNetConfig::from_json(c), at::TensorOptions());
  const auto unet = read_component_tensors(unet_dir);
  auto gen = at::detail::createCPUGenerator(o.seed);
  std::map<std::string, at::Tensor> w;
  for (const auto& [n, shape] : module_tensor_shapes(*shapes)) {
    const bool copied = starts_with(n, "conv_in.") || starts_with(n, "time_embedding.") ||
                        starts_with(n, "add_embedding.") || starts_with(n, "down_blocks.") || starts_with(n, "mid_block.");
    const bool zero_conv = starts_with(n, "controlnet_down_blocks.") || starts_with(n, "controlnet_mid_block.");
    if (copied) {
      w[n] = unet.at(n).clone();
    } else if (zero_conv && o.zero_convs == "identity") {
      w[n] = shape.size() == 4 ? at::eye(shape[0]).reshape(shape) : at::zeros(shape);  // 1x1 conv = I
    } else if ((zero_conv && o.zero_convs == "random") ||
               (starts_with(n, "controlnet_cond_embedding.") &&
                (o.random_cond_out || !starts_with(n, "controlnet_cond_embedding.conv_out.")))) {
      w[n] = at::randn(shape, gen) * 0.2;  // non-zero gains
    } else {
      w[n] = at::zeros(shape);  // from_unet's zero_module
    }
  }
  const fs::path dir = tmp.file(name);
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << c.dump(2);
  save_safetensors((dir / "diffusion_pytorch_model.safetensors").string(), w);
  return dir.string();
}

}  // namespace sdw::test
