// diffusers folder loading (see diffusers_folder.h).
#include "model/loading/diffusers_folder.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "model/safetensors/diffusers_json.h"
#include "model/safetensors/safetensors.h"

namespace fs = std::filesystem;

namespace sdw {
namespace {

const char* const kWeightStems[] = {"diffusion_pytorch_model", "model"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

template <typename Module>
void load_into(Module& module, const std::string& dir, const std::string& variant, const std::string& what,
               const LoadOptions& base = {}) {
  LoadOptions o = base;
  o.what = what + " from " + dir;
  load_state_dict(*module, read_component_tensors(dir, variant), o);
}

}  // namespace

nlohmann::json read_json_file(const std::string& path) {
  try {
    return read_diffusers_json_file(path);
  } catch (const DiffusersJsonError& e) {
    throw LoadError(e.what());
  }
}

std::string weight_variant_for(at::ScalarType dtype) {
  return dtype == at::kHalf || dtype == at::kBFloat16 ? "fp16" : "";
}

std::vector<std::string> find_weight_files(const std::string& dir, const std::string& variant) {
  if (!fs::is_directory(dir)) throw LoadError("component folder '" + dir + "' does not exist");
  std::vector<std::string> tried;
  std::vector<std::string> suffixes;
  if (!variant.empty()) suffixes.push_back("." + variant);
  suffixes.push_back("");
  for (const auto& suffix : suffixes) {
    for (const char* stem : kWeightStems) {
      const std::string single = dir + "/" + stem + suffix + ".safetensors";
      tried.push_back(fs::path(single).filename().string());
      if (fs::is_regular_file(single)) return {single};
      const std::string index = dir + "/" + stem + ".safetensors.index" + suffix + ".json";
      const std::string index2 = dir + "/" + stem + suffix + ".safetensors.index.json";
      for (const auto& idx : {index, index2}) {
        if (!fs::is_regular_file(idx)) continue;
        nlohmann::json j = read_json_file(idx);
        if (!j.contains("weight_map") || !j["weight_map"].is_object()) throw LoadError("'" + idx + "' has no weight_map");
        std::set<std::string> shards;
        for (const auto& kv : j["weight_map"].items()) {
          const std::string shard = kv.value().get<std::string>();
          if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
            throw LoadError("'" + idx + "' names a shard outside its folder: " + shard);
          shards.insert(dir + "/" + shard);
        }
        return {shards.begin(), shards.end()};
      }
    }
  }
  for (const char* stem : kWeightStems) {
    if (fs::exists(dir + "/" + stem + ".bin") || fs::exists(dir + "/" + stem + ".ckpt"))
      throw LoadError("'" + dir + "' has only pickle weights (" + stem +
                      ".bin): these are refused because loading them can run code; convert them to "
                      ".safetensors (e.g. with diffusers' save_pretrained(safe_serialization=True))");
  }
  throw LoadError("no weights in '" + dir + "' (looked for " + join(tried) + ")");
}

std::map<std::string, at::Tensor> read_component_tensors(const std::string& dir, const std::string& variant) {
  std::map<std::string, at::Tensor> out;
  for (const auto& file : find_weight_files(dir, variant)) {
    auto f = SafetensorsFile::open(file);
    for (const auto& name : f.names()) {
      if (!out.emplace(name, f.get(name)).second) throw LoadError("tensor '" + name + "' appears in two shards of " + dir);
    }
  }
  return out;
}

UNet2DConditionModel load_unet(const std::string& dir, const at::TensorOptions& options, const std::string& variant) {
  auto config = UNet2DConditionConfig::from_json(read_json_file(dir + "/config.json"));
  UNet2DConditionModel unet(config, options);
  load_into(unet, dir, variant, "UNet");
  unet->eval();
  return unet;
}

AutoencoderKL load_vae(const std::string& dir, const at::TensorOptions& options, const std::string& variant) {
  auto config = AutoencoderKLConfig::from_json(read_json_file(dir + "/config.json"));
  AutoencoderKL vae(config, options);
  load_into(vae, dir, variant, "VAE");
  vae->eval();
  return vae;
}

CLIPTextModel load_text_encoder(const std::string& dir, const at::TensorOptions& options, const std::string& variant) {
  auto config = CLIPTextConfig::from_json(read_json_file(dir + "/config.json"));
  CLIPTextModel model(config, options);
  LoadOptions o;
  // Files saved by transformers < 4.31 carry the position_ids buffer.
  o.ignore_unexpected = [](const std::string& name) { return name == "text_model.embeddings.position_ids"; };
  load_into(model, dir, variant, "text encoder", o);
  model->eval();
  return model;
}

DiffusersFolder DiffusersFolder::open(const std::string& root) {
  DiffusersFolder f;
  f.root = root;
  const std::string index = root + "/model_index.json";
  if (!fs::is_regular_file(index)) throw LoadError("'" + root + "' is not a diffusers folder (no model_index.json)");
  f.model_index = read_json_file(index);
  f.pipeline_class = f.model_index.value("_class_name", "");
  return f;
}

bool DiffusersFolder::has(const std::string& component) const {
  if (!model_index.contains(component)) return false;
  const auto& v = model_index[component];
  return v.is_array() && v.size() == 2 && !v[0].is_null() && fs::is_directory(path(component));
}

}  // namespace sdw
