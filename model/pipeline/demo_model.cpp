// The built-in demo model (see demo_model.h).
#include "model/pipeline/demo_model.h"

#include "model/nn/device_names.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <filesystem>

#include "model/loading/diffusers_folder.h"
#include "model/pipeline/rng.h"

namespace sdw {

namespace fs = std::filesystem;
namespace {

// SD1.x layout (conv projections, cross-attention, 4-channel latents, 8x VAE) at toy width. The
// first level has no attention so 512x512 (64x64 latents) stays cheap.
const char* kDemoUnet = R"({
  "in_channels": 4, "out_channels": 4, "block_out_channels": [32, 64, 64],
  "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
  "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
  "layers_per_block": 1, "attention_head_dim": 4, "cross_attention_dim": 64,
  "norm_num_groups": 8, "sample_size": 32, "use_linear_projection": false})";
const char* kDemoVae = R"({
  "in_channels": 3, "out_channels": 3, "latent_channels": 4, "block_out_channels": [16, 32, 32, 32],
  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
  "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
  "layers_per_block": 1, "norm_num_groups": 8, "scaling_factor": 0.18215, "sample_size": 256})";
const char* kDemoTextEncoder = R"({
  "architectures": ["CLIPTextModel"], "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
  "num_attention_heads": 4, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "vocab_size": 49408,
  "eos_token_id": 2})";
const char* kDemoScheduler = R"({
  "_class_name": "EulerAncestralDiscreteScheduler", "beta_start": 0.00085, "beta_end": 0.012,
  "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
  "steps_offset": 1, "timestep_spacing": "linspace", "set_alpha_to_one": false, "clip_sample": false})";

}  // namespace

void init_demo_weights(torch::nn::Module& module, uint64_t seed) {
  at::NoGradGuard no_grad;
  at::Generator gen = make_cpu_generator(seed);
  for (auto& p : module.named_parameters(true)) {
    at::Tensor& t = p.value();
    const std::string& name = p.key();
    const bool is_norm = name.find("norm") != std::string::npos;
    at::Tensor v;
    if (is_norm && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0) {
      v = at::ones(t.sizes(), at::kFloat);
    } else if (t.dim() <= 1) {
      v = at::randn(t.sizes(), gen, at::kFloat) * 0.02;
    } else {
      const int64_t fan_in = t.numel() / t.size(0);
      v = at::randn(t.sizes(), gen, at::kFloat) * (1.0 / std::sqrt(static_cast<double>(fan_in)));
    }
    t.copy_(v);
  }
}

std::shared_ptr<SdModel> make_demo_model(const ModelLoadOptions& options) {
  check_device_dtype(options.device, options.dtype);
  auto m = std::make_shared<SdModel>();
  m->name = "demo";
  m->family = "demo";
  m->pipeline_class = "StableDiffusionPipeline";
  m->device = options.device;
  m->dtype = options.dtype;
  m->vae_dtype = vae_dtype_for(options.dtype, options.vae_fp32, /*force_upcast=*/false);
  m->tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(data_dir() + "/tokenizer/clip-vit-large-patch14"));
  // Initialise on the CPU in fp32 (so every device and dtype gets the same values), then move.
  const auto cpu = at::TensorOptions().dtype(at::kFloat);
  m->text_encoder = CLIPTextModel(CLIPTextConfig::from_json(nlohmann::json::parse(kDemoTextEncoder)), cpu);
  m->unet = UNet2DConditionModel(UNet2DConditionConfig::from_json(nlohmann::json::parse(kDemoUnet)), cpu);
  m->vae = AutoencoderKL(AutoencoderKLConfig::from_json(nlohmann::json::parse(kDemoVae)), cpu);
  init_demo_weights(*m->text_encoder, 1);
  init_demo_weights(*m->unet, 2);
  init_demo_weights(*m->vae, 3);
  m->text_encoder->to(options.device, options.dtype);
  m->unet->to(options.device, options.dtype);
  m->vae->to(options.device, m->vae_dtype);
  m->text_encoder->eval();
  m->unet->eval();
  m->vae->eval();
  m->scheduler_config = nlohmann::json::parse(kDemoScheduler);
  m->default_width = m->default_height = 256;
  m->default_steps = 8;
  m->default_guidance = 7.5;
  apply_speed_options(*m, options);
  return m;
}

std::shared_ptr<SdModel> make_random_model(const std::string& dir, const ModelLoadOptions& options,
                                           bool with_text_encoder) {
  check_device_dtype(options.device, options.dtype);
  auto m = std::make_shared<SdModel>();
  m->name = dir;
  m->pipeline_class = "StableDiffusionPipeline";
  m->device = options.device;
  m->dtype = options.dtype;
  // Built at the dtype it runs in where it stays on the CPU, so a 16-bit model never exists in fp32
  // as a whole (fp16-stored SD1.5 peaked at 3.61 GiB building, 2.33 GiB held after); the values are
  // the same: init_demo_weights draws fp32 and copy_ rounds as to() does.
  const auto cpu = at::TensorOptions().dtype(options.device.is_cpu() ? options.dtype : at::kFloat);
  auto unet_config = UNet2DConditionConfig::from_json(read_json_file(dir + "/unet/config.json"));
  auto vae_config = AutoencoderKLConfig::from_json(read_json_file(dir + "/vae/config.json"));
  m->vae_dtype = vae_dtype_for(options.dtype, options.vae_fp32, vae_config.force_upcast);
  const bool sdxl = fs::exists(dir + "/text_encoder_2/config.json");
  m->family = sdxl ? "sdxl" : unet_config.use_linear_projection ? "sd2" : "sd1";
  if (sdxl) m->pipeline_class = "StableDiffusionXLPipeline";
  m->tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(
      data_dir() + (m->family == "sd2" ? "/tokenizer/clip-vit-large-patch14-pad-excl" : "/tokenizer/clip-vit-large-patch14")));
  if (with_text_encoder) {
    m->text_encoder = CLIPTextModel(CLIPTextConfig::from_json(read_json_file(dir + "/text_encoder/config.json")), cpu);
    init_demo_weights(*m->text_encoder, 1);
    m->text_encoder->to(options.device, options.dtype);
    m->text_encoder->eval();
    if (sdxl) {
      m->tokenizer_2 = std::make_shared<ClipTokenizer>(
          ClipTokenizer::from_folder(data_dir() + "/tokenizer/clip-vit-large-patch14-pad-excl"));
      m->text_encoder_2 = CLIPTextModel(CLIPTextConfig::from_json(read_json_file(dir + "/text_encoder_2/config.json")), cpu);
      init_demo_weights(*m->text_encoder_2, 4);
      m->text_encoder_2->to(options.device, options.dtype);
      m->text_encoder_2->eval();
      m->force_zeros_for_empty_prompt = true;
    }
  }
  m->unet = UNet2DConditionModel(unet_config, cpu);
  init_demo_weights(*m->unet, 2);
  m->unet->to(options.device, options.dtype);
  m->unet->eval();
  m->vae = AutoencoderKL(vae_config, cpu.dtype(options.device.is_cpu() ? m->vae_dtype : at::kFloat));
  init_demo_weights(*m->vae, 3);
  m->vae->to(options.device, m->vae_dtype);
  m->vae->eval();
  m->scheduler_config = read_json_file(dir + "/scheduler/scheduler_config.json");
  m->default_width = m->default_height = static_cast<int>(unet_config.sample_size * vae_config.scale_factor());
  apply_speed_options(*m, options);
  return m;
}

}  // namespace sdw
