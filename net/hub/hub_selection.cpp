// The files a diffusers pipeline needs (see hub_selection.h).
#include "net/hub/hub_selection.h"

#include <algorithm>
#include <set>

#include "net/hub/hub_error.h"

namespace sdw::net {
namespace {

const char* const kWeightStems[] = {"diffusion_pytorch_model", "model"};
// SD3 adds its MMDiT (transformer) and T5 (text_encoder_3, with tokenizer_3's spiece.model).
const std::set<std::string> kWeightComponents = {"unet",           "vae",         "text_encoder",
                                                 "text_encoder_2", "transformer", "text_encoder_3"};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_weight_index(const std::string& name) {
  return name.find(".safetensors.index") != std::string::npos || name.find(".bin.index") != std::string::npos;
}

// The files directly inside `component/`, as names relative to it.
std::set<std::string> files_in(const std::vector<std::string>& repo_files, const std::string& component) {
  std::set<std::string> out;
  const std::string prefix = component + "/";
  for (const auto& f : repo_files)
    if (f.compare(0, prefix.size(), prefix) == 0 && f.find('/', prefix.size()) == std::string::npos)
      out.insert(f.substr(prefix.size()));
  return out;
}

// The loader's order: variant before plain; per suffix, each stem's single file then its indexes.
std::string pick_weights(const std::set<std::string>& names, const std::string& variant, bool& is_index) {
  std::vector<std::string> suffixes;
  if (!variant.empty()) suffixes.push_back("." + variant);
  suffixes.push_back("");
  for (const auto& suffix : suffixes) {
    for (const char* stem : kWeightStems) {
      const std::string single = std::string(stem) + suffix + ".safetensors";
      if (names.count(single)) {
        is_index = false;
        return single;
      }
      for (const std::string& index : {std::string(stem) + ".safetensors.index" + suffix + ".json",
                                       std::string(stem) + suffix + ".safetensors.index.json"}) {
        if (names.count(index)) {
          is_index = true;
          return index;
        }
      }
    }
  }
  return "";
}

}  // namespace

const std::vector<std::string>& pipeline_components() {
  static const std::vector<std::string> c = {"unet",        "vae",         "text_encoder", "text_encoder_2",
                                             "tokenizer",   "tokenizer_2", "scheduler",    "transformer",
                                             "text_encoder_3", "tokenizer_3"};
  return c;
}

bool is_safe_repo_path(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') return false;
  size_t start = 0;
  while (true) {
    const auto slash = path.find('/', start);
    const std::string part = path.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

PipelineFiles select_pipeline_files(const nlohmann::json& model_index, const std::vector<std::string>& repo_files,
                                    const std::string& variant, const std::string& repo_name) {
  if (!model_index.is_object())
    throw HubError(HubErrc::unsupported, repo_name + ": model_index.json is not a JSON object");
  PipelineFiles out;
  std::set<std::string> chosen{"model_index.json"};
  for (const auto& component : pipeline_components()) {
    if (!model_index.contains(component)) continue;
    const auto& entry = model_index[component];
    if (!entry.is_array() || entry.empty() || entry[0].is_null()) continue;  // [null, null]: not part of it
    const std::set<std::string> names = files_in(repo_files, component);
    if (names.empty())
      throw HubError(HubErrc::unsupported, repo_name + ": model_index.json names the component '" + component +
                                               "' but the repository has no files in '" + component + "/'");
    for (const auto& name : names) {
      if ((ends_with(name, ".json") && !is_weight_index(name)) || name == "merges.txt" || name == "spiece.model")
        chosen.insert(component + "/" + name);
    }
    if (!kWeightComponents.count(component)) continue;
    bool is_index = false;
    const std::string weights = pick_weights(names, variant, is_index);
    if (weights.empty()) {
      std::string others;
      for (const auto& name : names)
        if (ends_with(name, ".bin") || ends_with(name, ".ckpt") || ends_with(name, ".msgpack") ||
            ends_with(name, ".onnx") || ends_with(name, ".pt") || ends_with(name, ".pth"))
          others += (others.empty() ? "" : ", ") + name;
      if (!others.empty())
        throw HubError(
            HubErrc::unsupported,
            repo_name + ": the component '" + component + "' has no .safetensors weights, only " + others +
                ". Pickle (.bin/.ckpt) weights are refused because loading them can run code; use a revision "
                "with .safetensors weights (many repos have one, e.g. a refs/pr/N conversion) or convert them "
                "with diffusers' save_pretrained(safe_serialization=True)");
      throw HubError(HubErrc::unsupported, repo_name + ": the component '" + component +
                                               "' has no weights (looked for " + kWeightStems[0] + "[." +
                                               (variant.empty() ? "fp16" : variant) +
                                               "].safetensors, model[...].safetensors and their sharded indexes)");
    }
    chosen.insert(component + "/" + weights);
    if (is_index) out.shard_indexes.push_back(component + "/" + weights);
  }
  for (const auto& f : chosen)
    if (!is_safe_repo_path(f))
      throw HubError(HubErrc::unsupported, repo_name + ": refusing the unsafe file path '" + f + "'");
  out.files.assign(chosen.begin(), chosen.end());
  return out;
}

std::vector<std::string> shard_files(const nlohmann::json& index, const std::string& index_path) {
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw HubError(HubErrc::unsupported, "'" + index_path + "' has no weight_map");
  const auto slash = index_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : index_path.substr(0, slash + 1);
  std::set<std::string> shards;
  for (const auto& kv : index["weight_map"].items()) {
    if (!kv.value().is_string())
      throw HubError(HubErrc::unsupported, "'" + index_path + "' maps '" + kv.key() + "' to a non-string");
    const std::string shard = kv.value().get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos || shard.find("..") != std::string::npos ||
        !ends_with(shard, ".safetensors"))
      throw HubError(HubErrc::unsupported, "'" + index_path + "' names an unusable shard: '" + shard + "'");
    shards.insert(dir + shard);
  }
  return {shards.begin(), shards.end()};
}

}  // namespace sdw::net
