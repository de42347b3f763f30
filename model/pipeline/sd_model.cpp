// Loading a Stable Diffusion model from a diffusers folder (see sd_model.h).
#include "model/pipeline/sd_model.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "model/catalog/catalog.h"
#include "model/nn/device_names.h"
#include "model/nn/fp8_linear.h"
#include "model/loading/diffusers_folder.h"
#include "model/loading/single_file.h"
#include "model/nn/fused_qkv.h"
#include "model/nn/layers.h"
#include "model/pipeline/sd3_model.h"
#include "model/pipeline/vae_memory.h"

namespace fs = std::filesystem;

namespace sdw {

namespace {

// Defaults a loaded model gives requests: the size its UNet was trained at (diffusers' default),
// steps/guidance from the catalog entry of its family; an SD-Turbo-like scheduler (Euler with
// trailing spacing) means 1 step without guidance.
void apply_family_defaults(SdModel& m) {
  const int64_t size = m.unet->config().sample_size * m.vae_scale_factor();
  m.default_width = m.default_height = static_cast<int>(size);
  // sd-turbo ships EulerDiscreteScheduler, sdxl-turbo EulerAncestralDiscreteScheduler, both trailing.
  const std::string cls = m.scheduler_config.value("_class_name", "");
  const bool turbo_like = (cls == "EulerDiscreteScheduler" || cls == "EulerAncestralDiscreteScheduler") &&
                          m.scheduler_config.value("timestep_spacing", "") == "trailing";
  const char* version = m.family == "sdxl" ? (turbo_like ? "turbo" : m.is_inpainting_unet() ? "xl-inpaint" : "xl")
                        : turbo_like        ? "sd-turbo"
                        : m.family == "sd2" ? "v2-1"
                                            : "v1-5";
  const auto entry = find_catalog_entry(version);
  m.default_steps = entry->steps;
  m.default_guidance = entry->guidance;
}

}  // namespace

int64_t SdModel::weight_bytes() const {
  std::vector<const torch::nn::Module*> parts;  // the components built (a bench model may lack its text encoder)
  if (!text_encoder.is_empty()) parts.push_back(text_encoder.get());
  if (!text_encoder_2.is_empty()) parts.push_back(text_encoder_2.get());
  if (!unet.is_empty()) parts.push_back(unet.get());
  if (!vae.is_empty()) parts.push_back(vae.get());
  int64_t total = 0;
  for (const torch::nn::Module* m : parts)
    for (const auto& p : m->parameters()) total += p.numel() * p.element_size();
  if (sd3) total += sd3->weight_bytes();
  return total;
}

at::ScalarType SdModel::activation_dtype_for(at::ScalarType weights) const {
  // bf16 weights on oneDNN's bf16 kernels, and fp16-stored weights (converted per product), run
  // with fp32 activations on the CPU (nn/layers.h).
  // bf16 weights on a CPU without oneDNN's bf16 kernels are bf16-stored the same way (converted per
  // product: libtorch's emulated bf16 products there are slower and far less exact).
  const bool mixed = device.is_cpu() && weights == at::kBFloat16 && nn::cpu_onednn_enabled() && nn::onednn_bf16_supported();
  const bool stored = device.is_cpu() && (weights == at::kHalf || (weights == at::kBFloat16 && !nn::onednn_bf16_supported()));
  return mixed || stored ? at::kFloat : weights;
}

UNetRunner& SdModel::unet_runner() {
  if (!runner) runner = std::make_shared<UNetRunner>(unet, cuda_graphs);
  return *runner;
}

void set_channels_last(SdModel& model, bool on) {
  at::NoGradGuard no_grad;
  const auto format = on ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  nn::unpack_weights(*model.unet);  // the plain weights (a packed layer packs again only while contiguous)
  for (auto& p : model.unet->parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(format));
  model.channels_last = on;
  if (model.runner) model.runner->clear();  // graphs captured the old layout
}

void set_fuse_qkv(SdModel& model, bool on) {
  if (!model.unet.is_empty()) nn::fuse_qkv_projections(*model.unet, on);
  if (!model.vae.is_empty()) nn::fuse_qkv_projections(*model.vae, on);
  if (model.runner && on != model.fuse_qkv) model.runner->clear();  // graphs captured the other projections
  model.fuse_qkv = on;
}

void apply_speed_options(SdModel& model, const ModelLoadOptions& options) {
  model.cuda_graphs = options.cuda_graphs;
  if (model.runner) model.runner->set_use_graphs(options.cuda_graphs);
  const bool nhwc = resolve_channels_last(options.channels_last, model.device);
  if (nhwc != model.channels_last) set_channels_last(model, nhwc);
  // After the weights are loaded and laid out; LoRAs fused later write into the fused weight.
  set_fuse_qkv(model, nn::resolve_fuse_qkv(options.fuse_qkv, model.device));
  apply_memory_options(model, options.memory);
  if (options.fp8 && !model.fp8) {
    // After fusing: the fused QKV Linear gets the fp8 copy its product uses.
    if (!model.device.is_cuda()) throw std::invalid_argument("--dtype fp8 needs a CUDA GPU with fp8 (sm_89+: L4, H100, H200)");
    if (model.sd3) nn::quantize_linears_fp8(*model.sd3->transformer);
    else nn::quantize_linears_fp8(*model.unet);
    model.fp8 = true;
    if (model.runner) model.runner->clear();  // graphs captured the fp16 products
  }
}

bool resolve_channels_last(const std::optional<bool>& requested, const at::Device& device) {
  return requested.value_or(device.is_cuda());
}

std::string data_dir() {
  if (const char* env = std::getenv("SDW_DATA_DIR")) return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);  // links such as sd-worker-cpu resolved
  if (!ec) {
    const fs::path share = (exe.parent_path() / ".." / "share" / "sd-worker").lexically_normal();
    if (fs::is_directory(share / "tokenizer", ec)) return share.string();
  }
#ifdef SDW_INSTALL_DATA_DIR
  if (fs::is_directory(SDW_INSTALL_DATA_DIR)) return SDW_INSTALL_DATA_DIR;
#endif
#ifdef SDW_SOURCE_DATA_DIR
  return SDW_SOURCE_DATA_DIR;
#else
  return "data";
#endif
}

std::shared_ptr<SdModel> load_diffusers_model(const std::string& folder, const ModelLoadOptions& options) {
  check_device_dtype(options.device, options.dtype);
  DiffusersFolder f = DiffusersFolder::open(folder);
  if (is_sd3_pipeline_class(f.pipeline_class)) return load_sd3_model(f, options);
  const bool sdxl = f.pipeline_class.find("XL") != std::string::npos;
  if (sdxl && f.pipeline_class != "StableDiffusionXLPipeline" && f.pipeline_class != "StableDiffusionXLImg2ImgPipeline" &&
      f.pipeline_class != "StableDiffusionXLInpaintPipeline")
    throw LoadError("'" + folder + "' is a " + f.pipeline_class +
                    "; the SDXL pipelines supported are StableDiffusionXL{,Img2Img,Inpaint}Pipeline");
  // An SDXL refiner has text_encoder_2 only (model_index.json: "text_encoder": [null, null]).
  const bool first_encoder = !sdxl || f.has("text_encoder") || f.has("tokenizer");
  std::vector<const char*> needed{"unet", "vae", "scheduler"};
  if (first_encoder) needed.insert(needed.end(), {"text_encoder", "tokenizer"});
  if (sdxl) needed.insert(needed.end(), {"text_encoder_2", "tokenizer_2"});
  for (const char* c : needed)
    if (!f.has(c)) throw LoadError("'" + folder + "' has no '" + c + "' component");
  auto m = std::make_shared<SdModel>();
  m->name = folder;
  m->pipeline_class = f.pipeline_class;
  m->device = options.device;
  m->dtype = options.dtype;
  const std::string variant = weight_variant_for(options.dtype);
  const auto opts = at::TensorOptions().dtype(options.dtype).device(options.device);
  if (first_encoder) {
    m->tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(f.path("tokenizer")));
    m->text_encoder = load_text_encoder(f.path("text_encoder"), opts, variant);
  }
  m->unet = load_unet(f.path("unet"), opts, variant);
  auto vae_config = AutoencoderKLConfig::from_json(read_json_file(f.path("vae") + "/config.json"));
  m->vae_dtype = vae_dtype_for(options.dtype, options.vae_fp32, vae_config.force_upcast);
  m->vae = load_vae(f.path("vae"), at::TensorOptions().dtype(m->vae_dtype).device(options.device), variant);
  m->scheduler_config = read_json_file(f.path("scheduler") + "/scheduler_config.json");
  const bool sd2_tokenizer = first_encoder && m->tokenizer->pad_token() == "!";
  m->family = sd2_tokenizer || m->unet->config().use_linear_projection ? "sd2" : "sd1";
  if (sdxl) {
    m->family = "sdxl";
    m->tokenizer_2 = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(f.path("tokenizer_2")));
    m->text_encoder_2 = load_text_encoder(f.path("text_encoder_2"), opts, variant);
    if (!m->text_encoder_2->config().with_projection)
      throw LoadError("'" + folder + "/text_encoder_2' is not a CLIPTextModelWithProjection (SDXL pools its projection)");
    m->force_zeros_for_empty_prompt = f.model_index.value("force_zeros_for_empty_prompt", true);  // diffusers' default
    m->requires_aesthetics_score = f.model_index.value("requires_aesthetics_score", false);
  }
  apply_family_defaults(*m);
  apply_speed_options(*m, options);
  return m;
}

std::shared_ptr<SdModel> load_single_file_model(const std::string& file, const ModelLoadOptions& options) {
  check_device_dtype(options.device, options.dtype);
  SingleFileOptions o;
  o.config_dir = options.config_dir;
  o.vae_path = options.vae_file;
  o.configs_root = data_dir() + "/configs";
  o.device = options.device;
  o.dtype = options.dtype;
  o.vae_fp32 = options.vae_fp32;
  SingleFileComponents c = load_single_file(file, o);
  auto m = std::make_shared<SdModel>();
  m->name = file;
  m->pipeline_class = c.pipeline_class;
  m->device = options.device;
  m->dtype = options.dtype;
  m->vae_dtype = c.vae_dtype;
  m->text_encoder = c.text_encoder;
  m->unet = c.unet;
  m->vae = c.vae;
  m->scheduler_config = c.scheduler_config;
  // The tokenizer of --config, else the worker's CLIP vocabulary with the tower's padding:
  // SD1 pads with <|endoftext|>, SD2 (OpenCLIP) with '!'.
  const bool open_clip = c.detection.text == TextTower::open_clip;
  const std::string tokenizer_dir = !c.tokenizer_dir.empty() ? c.tokenizer_dir
                                    : data_dir() + (open_clip ? "/tokenizer/clip-vit-large-patch14-pad-excl"
                                                              : "/tokenizer/clip-vit-large-patch14");
  m->tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(tokenizer_dir));
  m->family = open_clip || m->tokenizer->pad_token() == "!" || m->unet->config().use_linear_projection ? "sd2" : "sd1";
  if (c.detection.text == TextTower::sdxl) {
    // SDXL: tokenizer_2 pads with '!' (OpenCLIP); model_index.json of --config, else diffusers' defaults.
    m->family = "sdxl";
    m->text_encoder_2 = c.text_encoder_2;
    const std::string tokenizer_2_dir =
        !c.tokenizer_2_dir.empty() ? c.tokenizer_2_dir : data_dir() + "/tokenizer/clip-vit-large-patch14-pad-excl";
    m->tokenizer_2 = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(tokenizer_2_dir));
    m->force_zeros_for_empty_prompt = c.model_index.value("force_zeros_for_empty_prompt", true);
    m->requires_aesthetics_score = c.model_index.value("requires_aesthetics_score", false);
  }
  apply_family_defaults(*m);
  apply_speed_options(*m, options);
  return m;
}

}  // namespace sdw
