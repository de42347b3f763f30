// SD3 model loading (see sd3_model.h).
#include "model/pipeline/sd3_model.h"

#include "model/catalog/catalog.h"
#include "model/nn/device_names.h"
#include "model/pipeline/sd3_components.h"
#include "model/tokenizer/t5_tokenizer.h"

namespace sdw {

int64_t Sd3Components::weight_bytes() const {
  int64_t total = 0;
  auto add = [&](const torch::nn::Module& m) {
    for (const auto& p : m.parameters()) total += p.numel() * p.element_size();
    for (const auto& b : m.buffers()) total += b.numel() * b.element_size();
  };
  if (has_t5()) {
    // shared.weight is registered twice (tied): count it once.
    for (const auto& p : text_encoder_3->named_parameters())
      if (p.key() != "encoder.embed_tokens.weight") total += p.value().numel() * p.value().element_size();
  }
  if (!transformer.is_empty()) add(*transformer);
  return total;
}

bool is_sd3_pipeline_class(const std::string& pipeline_class) {
  return pipeline_class.rfind("StableDiffusion3", 0) == 0;
}

namespace {

// Where T5 is loaded and in which dtype (see load_sd3_model).
at::TensorOptions t5_options(const ModelLoadOptions& options) {
  const at::Device device = options.t5_device.value_or(options.device);
  // On the CPU beside another device, fp16 becomes bf16: libtorch's CPU half kernels are missing
  // (1.x) or slow, and T5 was trained in bf16 (fp16 overflows in its feed-forward).
  const bool cpu_aside = device.is_cpu() && !options.device.is_cpu();
  const at::ScalarType dtype = cpu_aside && options.dtype == at::kHalf ? at::kBFloat16 : options.dtype;
  return at::TensorOptions().dtype(dtype).device(device);
}

}  // namespace

std::shared_ptr<SdModel> load_sd3_model(const DiffusersFolder& f, const ModelLoadOptions& options) {
  if (f.pipeline_class != "StableDiffusion3Pipeline" && f.pipeline_class != "StableDiffusion3Img2ImgPipeline")
    throw LoadError("'" + f.root + "' is a " + f.pipeline_class +
                    "; the SD3 pipelines supported are StableDiffusion3Pipeline and StableDiffusion3Img2ImgPipeline");
  for (const char* c : {"transformer", "vae", "scheduler", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2"})
    if (!f.has(c)) throw LoadError("'" + f.root + "' has no '" + c + "' component");
  auto m = std::make_shared<SdModel>();
  m->name = f.root;
  m->family = "sd3";
  m->pipeline_class = f.pipeline_class;
  m->device = options.device;
  m->dtype = options.dtype;
  const std::string variant = weight_variant_for(options.dtype);
  const auto opts = at::TensorOptions().dtype(options.dtype).device(options.device);
  // 1. CLIP-L and CLIP-G, both with their text projection (the pooled vector is their concatenation)
  m->tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(f.path("tokenizer")));
  m->tokenizer_2 = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(f.path("tokenizer_2")));
  m->text_encoder = load_text_encoder(f.path("text_encoder"), opts, variant);
  m->text_encoder_2 = load_text_encoder(f.path("text_encoder_2"), opts, variant);
  for (const CLIPTextModel* te : {&m->text_encoder, &m->text_encoder_2})
    if (!(*te)->config().with_projection)
      throw LoadError("'" + f.root + "': SD3's text encoders must be CLIPTextModelWithProjection");
  // 2. T5 (optional), the MMDiT, the VAE, the scheduler
  auto parts = std::make_shared<Sd3Components>();
  if (options.max_sequence_length != 0) {
    if (options.max_sequence_length < 1 || options.max_sequence_length > T5Tokenizer::kMaxSequenceLength)
      throw LoadError("max_sequence_length must be between 1 and " + std::to_string(T5Tokenizer::kMaxSequenceLength) +
                      ", got " + std::to_string(options.max_sequence_length));
    parts->default_max_sequence_length = options.max_sequence_length;
  }
  parts->t5_left_out = !options.load_t5 && f.has("text_encoder_3");
  parts->t5_device = options.t5_device.value_or(options.device);
  if (options.load_t5 && f.has("text_encoder_3")) {
    if (!f.has("tokenizer_3")) throw LoadError("'" + f.root + "' has text_encoder_3 but no tokenizer_3");
    try {
      parts->tokenizer_3 = std::make_shared<T5Tokenizer>(T5Tokenizer::from_folder(f.path("tokenizer_3")));
    } catch (const TokenizerError& e) {
      throw LoadError(e.what());
    }
    parts->text_encoder_3 = load_t5_encoder(f.path("text_encoder_3"), t5_options(options), variant);
  }
  parts->transformer = load_sd3_transformer(f.path("transformer"), opts, variant);
  parts->tokenizer_max_length = ClipTokenizer::kMaxLength;
  auto vae_config = AutoencoderKLConfig::from_json(read_json_file(f.path("vae") + "/config.json"));
  m->vae_dtype = vae_dtype_for(options.dtype, options.vae_fp32, vae_config.force_upcast);
  m->vae = load_vae(f.path("vae"), at::TensorOptions().dtype(m->vae_dtype).device(options.device), variant);
  if (m->vae->config().latent_channels != parts->transformer->config().in_channels)
    throw LoadError("'" + f.root + "': the VAE's " + std::to_string(m->vae->config().latent_channels) +
                    " latent channels differ from the transformer's " +
                    std::to_string(parts->transformer->config().in_channels) + " input channels");
  m->scheduler_config = read_json_file(f.path("scheduler") + "/scheduler_config.json");
  if (m->scheduler_config.value("_class_name", "") != "FlowMatchEulerDiscreteScheduler")
    throw LoadError("'" + f.root + "': SD3 runs FlowMatchEulerDiscreteScheduler, the folder names " +
                    m->scheduler_config.value("_class_name", std::string("none")));
  m->sd3 = parts;
  // 3. defaults: the transformer's native size, the catalog's steps and guidance
  const int64_t size = parts->transformer->config().sample_size * m->vae_scale_factor();
  m->default_width = m->default_height = static_cast<int>(size);
  const auto entry = find_catalog_entry("sd3-medium");
  m->default_steps = entry ? entry->steps : 28;
  m->default_guidance = entry ? entry->guidance : 7.0;
  m->cuda_graphs = false;  // the UNet runner's graphs are not used by the MMDiT
  return m;
}

}  // namespace sdw
