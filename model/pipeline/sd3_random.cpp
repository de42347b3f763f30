// Random-weight SD3 (see sd3_random.h).
#include "model/pipeline/sd3_random.h"

#include <ATen/core/grad_mode.h>

#include "model/loading/diffusers_folder.h"
#include "model/nn/device_names.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/sd3_model.h"

namespace sdw {
namespace {

// Built on the CPU in `dtype`, seeded, then moved: one fp32 temporary per parameter at most.
template <class M>
M seeded(M module, uint64_t seed, const at::Device& device, at::ScalarType dtype) {
  init_demo_weights(*module, seed);
  module->to(device, dtype);
  module->eval();
  return module;
}

}  // namespace

std::shared_ptr<SdModel> make_random_sd3_model(const std::string& dir, const ModelLoadOptions& options) {
  check_device_dtype(options.device, options.dtype);
  at::NoGradGuard no_grad;
  auto m = std::make_shared<SdModel>();
  m->name = dir;
  m->family = "sd3";
  m->pipeline_class = "StableDiffusion3Pipeline";
  m->device = options.device;
  m->dtype = options.dtype;
  const auto cpu = at::TensorOptions().dtype(options.dtype);
  const std::string tokenizers = data_dir() + "/tokenizer/";
  m->tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(tokenizers + "clip-vit-large-patch14"));
  m->tokenizer_2 = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(tokenizers + "clip-vit-large-patch14-pad-excl"));
  m->text_encoder = seeded(CLIPTextModel(CLIPTextConfig::from_json(read_json_file(dir + "/text_encoder/config.json")), cpu),
                           1, options.device, options.dtype);
  m->text_encoder_2 = seeded(
      CLIPTextModel(CLIPTextConfig::from_json(read_json_file(dir + "/text_encoder_2/config.json")), cpu), 4,
      options.device, options.dtype);
  auto parts = std::make_shared<Sd3Components>();
  parts->t5_device = options.t5_device.value_or(options.device);
  if (options.max_sequence_length > 0) parts->default_max_sequence_length = options.max_sequence_length;
  if (options.load_t5) {
    parts->tokenizer_3 = std::make_shared<T5Tokenizer>(T5Tokenizer::from_folder(dir + "/tokenizer_3"));
    parts->text_encoder_3 = seeded(T5EncoderModel(T5Config::from_json(read_json_file(dir + "/text_encoder_3/config.json")), cpu),
                                   5, parts->t5_device, options.dtype);
  }
  parts->transformer = seeded(
      SD3Transformer2DModel(SD3Transformer2DConfig::from_json(read_json_file(dir + "/transformer/config.json")), cpu), 2,
      options.device, options.dtype);
  parts->tokenizer_max_length = ClipTokenizer::kMaxLength;
  auto vae_config = AutoencoderKLConfig::from_json(read_json_file(dir + "/vae/config.json"));
  m->vae_dtype = vae_dtype_for(options.dtype, options.vae_fp32, vae_config.force_upcast);
  m->vae = seeded(AutoencoderKL(vae_config, at::TensorOptions().dtype(m->vae_dtype)), 3, options.device, m->vae_dtype);
  m->scheduler_config = read_json_file(dir + "/scheduler/scheduler_config.json");
  m->sd3 = parts;
  m->default_width = m->default_height =
      static_cast<int>(parts->transformer->config().sample_size * m->vae_scale_factor());
  m->default_steps = 28;
  m->default_guidance = 7.0;
  m->cuda_graphs = false;
  return m;
}

}  // namespace sdw
