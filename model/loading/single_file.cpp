// Single-file (LDM layout) checkpoint detection and loading (see single_file.h).
#include "model/loading/single_file.h"

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "model/loading/diffusers_folder.h"

namespace fs = std::filesystem;

namespace sdw {
namespace {

const std::string kUnetPrefix = "model.diffusion_model.";
const std::string kUnetFirstConv = kUnetPrefix + "input_blocks.0.0.weight";

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

// The families whose configs ship in data/configs/<name>/.
struct KnownFamily {
  const char* name;
  TextTower text;
  int64_t context;
  int64_t in_channels;
};
const KnownFamily kFamilies[] = {
    {"sd15", TextTower::openai_clip, 768, 4},
    {"sd15-inpaint", TextTower::openai_clip, 768, 9},
    {"sd21", TextTower::open_clip, 1024, 4},
    {"sdxl", TextTower::sdxl, 2048, 4},
};

// A stored tensor on its way to a diffusers name.
struct Source {
  std::string stored_name;
  std::vector<int64_t> stored_shape;
  at::Tensor tensor;  // converted (view of the mapped file where possible)
};
using ComponentTensors = std::map<std::string, Source>;  // diffusers name -> source

void throw_problems(const std::string& what, const std::vector<std::string>& problems) {
  std::ostringstream os;
  os << "cannot load " << what << ": " << problems.size() << " problem(s): ";
  const size_t shown = std::min<size_t>(problems.size(), 20);
  for (size_t i = 0; i < shown; ++i) os << (i ? "; " : "") << problems[i];
  if (shown < problems.size()) os << "; ... and " << (problems.size() - shown) << " more";
  throw LoadError(os.str());
}

// Compares the converted tensors with the module's parameters; messages name the stored tensor.
void check_component(const torch::nn::Module& module, const ComponentTensors& tensors, const std::string& what,
                     const std::function<std::string(const std::string&)>& stored_name_of,
                     std::vector<std::string>& problems) {
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto& kv : module_tensor_shapes(module)) expected.emplace(kv.first, kv.second);
  std::set<std::string> reported;  // q/k/v of one fused tensor: reported once
  for (const auto& kv : expected) {
    auto it = tensors.find(kv.first);
    if (it == tensors.end()) {
      const std::string stored = stored_name_of(kv.first);
      if (!stored.empty() && !reported.insert(stored).second) continue;
      problems.push_back(what + ": missing tensor '" + (stored.empty() ? kv.first : stored) + "' (diffusers '" + kv.first +
                         "', shape " + shape_str(kv.second) + ")");
    } else if (it->second.tensor.sizes().vec() != kv.second) {
      problems.push_back(what + ": tensor '" + it->second.stored_name + "' has shape " + shape_str(it->second.stored_shape) +
                         " (as diffusers '" + kv.first + "': " + shape_str(it->second.tensor.sizes().vec()) +
                         ") but the model needs " + shape_str(kv.second));
    }
  }
  for (const auto& kv : tensors)
    if (!expected.count(kv.first))
      problems.push_back(what + ": tensor '" + kv.second.stored_name + "' (diffusers '" + kv.first +
                         "') has no place in the model built from the config");
}

template <typename Module>
void load_checked(Module& module, const ComponentTensors& tensors, const std::string& what) {
  std::map<std::string, at::Tensor> plain;
  for (const auto& kv : tensors) plain.emplace(kv.first, kv.second.tensor);
  LoadOptions o;
  o.what = what;
  load_state_dict(*module, plain, o);
  module->eval();
}

nlohmann::json read_config(const std::string& dir, const std::string& rel, const std::string& why) {
  const std::string path = dir + "/" + rel;
  if (!fs::is_regular_file(path)) throw LoadError("'" + dir + "' has no " + rel + " (" + why + ")");
  return read_json_file(path);
}

template <typename Config>
Config parse_config(const nlohmann::json& j, const std::string& path) {
  try {
    return Config::from_json(j);
  } catch (const std::exception& e) {
    throw LoadError(path + ": " + e.what());
  }
}

}  // namespace

SingleFileDetection detect_single_file(const SafetensorsFile& file) {
  SingleFileDetection d;
  const auto names = file.names();
  bool openai = false, openclip = false, sgm = false;
  for (const auto& n : names) {
    openai = openai || starts_with(n, "cond_stage_model.transformer.");
    openclip = openclip || starts_with(n, "cond_stage_model.model.");
    sgm = sgm || starts_with(n, "conditioner.embedders.");
    d.has_vae = d.has_vae || starts_with(n, "first_stage_model.");
    if (d.cross_attention_dim == 0 && starts_with(n, kUnetPrefix) && ends_with(n, ".attn2.to_k.weight")) {
      const auto& s = file.info(n).shape;
      if (s.size() == 2) d.cross_attention_dim = s[1];
    }
  }
  const std::string where = "'" + file.path() + "'";
  if (!file.contains(kUnetFirstConv)) {
    std::string hint;
    if (file.contains("conv_in.weight") || file.contains("encoder.conv_in.weight") ||
        file.contains("text_model.embeddings.token_embedding.weight"))
      hint = " It looks like one component of a diffusers folder: pass the whole folder as --model "
             "(or a VAE file as --vae).";
    throw LoadError(where + " is not a single-file Stable Diffusion checkpoint in the original (LDM) layout: it has no '" +
                    kUnetFirstConv + "'." + hint);
  }
  const auto& conv_in = file.info(kUnetFirstConv).shape;
  if (conv_in.size() != 4) throw LoadError(where + ": '" + kUnetFirstConv + "' has shape " + shape_str(conv_in) + ", expected 4 dimensions");
  d.unet_in_channels = conv_in[1];
  if (sgm) {
    bool clip_l = false, refiner = false;
    for (const auto& n : names) {
      clip_l = clip_l || starts_with(n, "conditioner.embedders.0.transformer.");
      refiner = refiner || starts_with(n, "conditioner.embedders.0.model.");
    }
    if (refiner && !clip_l)
      throw LoadError(where + " is an SDXL refiner checkpoint (conditioner.embedders.0.model.*: OpenCLIP only); "
                      "refiner single files are not supported: use the refiner's diffusers folder");
    d.text = TextTower::sdxl;
  } else if (openai && openclip) {
    throw LoadError(where + " holds two text encoders (cond_stage_model.transformer.* and cond_stage_model.model.*)");
  } else if (openclip) {
    d.text = TextTower::open_clip;
  } else if (openai) {
    d.text = TextTower::openai_clip;
  } else {
    throw LoadError(where + " has no text encoder (no cond_stage_model.* or conditioner.embedders.* tensors)");
  }
  std::ostringstream desc;
  desc << "text encoder " << text_tower_name(d.text) << ", cross-attention width " << d.cross_attention_dim
       << ", UNet input channels " << d.unet_in_channels;
  d.description = desc.str();
  for (const auto& f : kFamilies)
    if (f.text == d.text && f.context == d.cross_attention_dim && f.in_channels == d.unet_in_channels) d.family = f.name;
  return d;
}

AutoencoderKL load_vae_file(const std::string& path, const AutoencoderKLConfig& config, const at::TensorOptions& options) {
  auto file = SafetensorsFile::open(path);
  const auto names = file.names();
  bool ldm_prefixed = false, ldm = false, diffusers = false;
  for (const auto& n : names) {
    ldm_prefixed = ldm_prefixed || starts_with(n, "first_stage_model.");
    ldm = ldm || starts_with(n, "encoder.down.") || starts_with(n, "decoder.up.") || starts_with(n, "encoder.mid.");
    diffusers = diffusers || starts_with(n, "encoder.down_blocks.") || starts_with(n, "decoder.up_blocks.");
  }
  const std::string what = "VAE from '" + path + "'";
  ComponentTensors tensors;
  std::vector<std::string> problems;
  std::function<std::string(const std::string&)> stored_name_of = [](const std::string&) { return std::string(); };
  AutoencoderKL vae(config, options);
  if (ldm_prefixed || ldm) {
    const std::string prefix = ldm_prefixed ? "first_stage_model." : "";
    auto map = std::make_shared<LdmKeyMap>(LdmLayout::vae_only(config, prefix));
    stored_name_of = [map](const std::string& n) { return map->ldm_name(SdComponent::vae, n); };
    for (const auto& n : names) {
      // A whole checkpoint given as --vae: only its VAE is read. A prefix-less LDM autoencoder
      // training checkpoint also carries its loss (LPIPS, discriminator).
      if (ldm_prefixed && !starts_with(n, prefix)) continue;
      if (!ldm_prefixed && starts_with(n, "loss.")) continue;
      const KeyConversion c = map->convert(n);
      if (c.kind == KeyConversion::Kind::ignored) continue;
      if (c.kind == KeyConversion::Kind::unknown) {
        problems.push_back("unknown tensor '" + n + "' " + shape_str(file.info(n).shape) + ": no conversion rule matches");
        continue;
      }
      for (const auto& t : c.targets)
        tensors[t.name] = {n, file.info(n).shape, convert_tensor(t.transform, file.get(n))};
    }
  } else if (diffusers) {
    for (const auto& n : names) {
      const std::string current = current_vae_attention_name(n);
      if (!tensors.emplace(current, Source{n, file.info(n).shape, file.get(n)}).second)
        problems.push_back("tensor '" + n + "' and another one both give '" + current + "'");
    }
  } else {
    throw LoadError("'" + path + "' is not a VAE: expected diffusers names (encoder.down_blocks.*) or LDM names "
                    "(encoder.down.*, optionally with first_stage_model.)");
  }
  check_component(*vae, tensors, "VAE", stored_name_of, problems);
  if (!problems.empty()) throw_problems(what, problems);
  load_checked(vae, tensors, what);
  return vae;
}

SingleFileComponents load_single_file(const std::string& path, const SingleFileOptions& options) {
  auto file = SafetensorsFile::open(path);
  SingleFileComponents out;
  out.detection = detect_single_file(file);
  const SingleFileDetection& d = out.detection;
  const std::string where = "'" + path + "'";
  // 1. which configs
  if (!options.config_dir.empty()) {
    if (!fs::is_directory(options.config_dir)) throw LoadError("--config '" + options.config_dir + "' is not a folder");
    out.config_dir = options.config_dir;
  } else if (!d.family.empty()) {
    out.family = d.family;
    out.config_dir = options.configs_root + "/" + d.family;
    if (!fs::is_directory(out.config_dir))
      throw LoadError("the worker's config folder for " + d.family + " is missing ('" + out.config_dir +
                      "'); set SDW_DATA_DIR or pass --config DIR");
  } else if (d.text == TextTower::sdxl && d.cross_attention_dim == 2048 && d.unet_in_channels == 9) {
    throw LoadError(where + " is an SDXL inpainting checkpoint (" + d.description +
                    "); the worker ships no config for it: pass --config DIR with a diffusers folder of the same "
                    "architecture (e.g. diffusers/stable-diffusion-xl-1.0-inpainting-0.1's configs)");
  } else if (d.text == TextTower::open_clip && d.cross_attention_dim == 1024 && d.unet_in_channels == 9) {
    throw LoadError(where + " is an SD2.x inpainting checkpoint (" + d.description +
                    "); the worker ships no config for it: pass --config DIR with a diffusers folder of the same "
                    "architecture (e.g. stabilityai/stable-diffusion-2-inpainting's configs)");
  } else {
    throw LoadError(where + ": unrecognised model family (" + d.description +
                    "). Known: SD1.x (OpenAI CLIP text encoder, cross-attention 768, 4 or 9 input channels) and "
                    "SD2.x (OpenCLIP, 1024, 4 channels), SDXL base (CLIP + OpenCLIP, 2048, 4 channels). Pass --config DIR with a diffusers folder (unet/, vae/, "
                    "text_encoder/, scheduler/ configs) of the checkpoint's architecture");
  }
  const std::string cfg = out.config_dir;
  const std::string why = options.config_dir.empty() ? "shipped config" : "--config needs the diffusers component configs";
  const auto unet_json = read_config(cfg, "unet/config.json", why);
  const auto vae_json = read_config(cfg, "vae/config.json", why);
  const auto text_json = read_config(cfg, "text_encoder/config.json", why);
  out.scheduler_config = read_config(cfg, "scheduler/scheduler_config.json", why);
  const auto unet_config = parse_config<UNet2DConditionConfig>(unet_json, cfg + "/unet/config.json");
  const auto vae_config = parse_config<AutoencoderKLConfig>(vae_json, cfg + "/vae/config.json");
  const auto text_config = parse_config<CLIPTextConfig>(text_json, cfg + "/text_encoder/config.json");
  const bool sdxl = d.text == TextTower::sdxl;
  CLIPTextConfig text2_config;
  if (sdxl) {
    text2_config = parse_config<CLIPTextConfig>(read_config(cfg, "text_encoder_2/config.json", why),
                                                cfg + "/text_encoder_2/config.json");
    if (!text2_config.with_projection)
      throw LoadError(cfg + "/text_encoder_2/config.json is not a CLIPTextModelWithProjection (SDXL pools its projection)");
  }
  if (fs::is_directory(cfg + "/tokenizer")) out.tokenizer_dir = cfg + "/tokenizer";
  if (sdxl && fs::is_directory(cfg + "/tokenizer_2")) out.tokenizer_2_dir = cfg + "/tokenizer_2";
  out.pipeline_class = sdxl ? (unet_config.in_channels == 9 ? "StableDiffusionXLInpaintPipeline" : "StableDiffusionXLPipeline")
                       : unet_config.in_channels == 9 ? "StableDiffusionInpaintPipeline"
                                                      : "StableDiffusionPipeline";
  if (fs::is_regular_file(cfg + "/model_index.json")) {
    out.model_index = read_json_file(cfg + "/model_index.json");
    out.pipeline_class = out.model_index.value("_class_name", out.pipeline_class);
  }

  // 2. names: every tensor converted or ignored by a rule
  LdmLayout layout = LdmLayout::from_configs(unet_config, vae_config, d.text, text_config.num_hidden_layers,
                                             sdxl ? text2_config.num_hidden_layers : 32);
  layout.include_vae = options.vae_path.empty();
  const LdmKeyMap map(layout);
  std::map<SdComponent, ComponentTensors> parts;
  std::vector<std::string> problems;
  for (const auto& n : file.names()) {
    const KeyConversion c = map.convert(n);
    if (c.kind == KeyConversion::Kind::ignored) {
      ++out.ignored_tensors;
      continue;
    }
    if (c.kind == KeyConversion::Kind::unknown) {
      problems.push_back("unknown tensor '" + n + "' " + shape_str(file.info(n).shape) +
                         ": no conversion or ignore rule matches (is the config right for this checkpoint?)");
      continue;
    }
    for (const auto& t : c.targets) {
      auto& dst = parts[t.component];
      if (dst.count(t.name)) {
        problems.push_back("tensors '" + dst[t.name].stored_name + "' and '" + n + "' both give diffusers '" + t.name + "'");
        continue;
      }
      dst[t.name] = {n, file.info(n).shape, convert_tensor(t.transform, file.get(n))};
    }
  }
  if (layout.include_vae && !d.has_vae)
    problems.push_back("the checkpoint has no VAE (no first_stage_model.* tensors): pass --vae FILE");

  // 3. build the modules from the configs and check every tensor against them, then load
  const auto opts = at::TensorOptions().dtype(options.dtype).device(options.device);
  out.vae_dtype = vae_dtype_for(options.dtype, options.vae_fp32, vae_config.force_upcast);
  const auto vae_opts = at::TensorOptions().dtype(out.vae_dtype).device(options.device);
  auto stored_name_of = [&map](SdComponent c) {
    return [&map, c](const std::string& n) { return map.ldm_name(c, n); };
  };
  out.unet = UNet2DConditionModel(unet_config, opts);
  out.text_encoder = CLIPTextModel(text_config, opts);
  check_component(*out.unet, parts[SdComponent::unet], "UNet", stored_name_of(SdComponent::unet), problems);
  check_component(*out.text_encoder, parts[SdComponent::text_encoder], "text encoder",
                  stored_name_of(SdComponent::text_encoder), problems);
  if (sdxl) {
    out.text_encoder_2 = CLIPTextModel(text2_config, opts);
    check_component(*out.text_encoder_2, parts[SdComponent::text_encoder_2], "text encoder 2",
                    stored_name_of(SdComponent::text_encoder_2), problems);
  }
  if (layout.include_vae) {
    out.vae = AutoencoderKL(vae_config, vae_opts);
    if (d.has_vae) check_component(*out.vae, parts[SdComponent::vae], "VAE", stored_name_of(SdComponent::vae), problems);
  }
  if (!problems.empty()) throw_problems(where + " (configs from '" + cfg + "')", problems);
  load_checked(out.unet, parts[SdComponent::unet], "UNet from " + where);
  load_checked(out.text_encoder, parts[SdComponent::text_encoder], "text encoder from " + where);
  if (sdxl) load_checked(out.text_encoder_2, parts[SdComponent::text_encoder_2], "text encoder 2 from " + where);
  if (layout.include_vae)
    load_checked(out.vae, parts[SdComponent::vae], "VAE from " + where);
  else
    out.vae = load_vae_file(options.vae_path, vae_config, vae_opts);
  return out;
}

}  // namespace sdw
