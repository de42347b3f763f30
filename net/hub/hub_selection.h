// Which files of a diffusers pipeline repo the worker needs: model_index.json; per component it
// names (unet, vae, text_encoder(_2), tokenizer(_2), scheduler; null entries, safety_checker and
// feature_extractor skipped) the *.json configs and merges.txt, and the weights the loader
// (model/loading/diffusers_folder.cpp, find_weight_files) will pick, probed in the same order:
// the variant first ("fp16"), then the plain files; one .safetensors file or an index whose shards
// follow. Never .bin/.ckpt/.msgpack/.onnx: a component with only those is an error.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sdw::net {

struct PipelineFiles {
  std::vector<std::string> files;          // repo paths to fetch (sorted; shards not yet included)
  std::vector<std::string> shard_indexes;  // weight indexes among `files`: their shards follow
};

// The components the worker's pipelines use (in model_index.json order of appearance).
const std::vector<std::string>& pipeline_components();

// `repo_files` lists the repo (the revision API's siblings, or a cached snapshot's files).
// Throws HubError(unsupported) naming the component and what it has instead.
PipelineFiles select_pipeline_files(const nlohmann::json& model_index, const std::vector<std::string>& repo_files,
                                    const std::string& variant, const std::string& repo_name);

// The shard files an index names ("unet/diffusion_pytorch_model-00001-of-00002.safetensors"),
// given the index's repo path. Throws HubError(unsupported) on a malformed index.
std::vector<std::string> shard_files(const nlohmann::json& index, const std::string& index_path);

// A repo path that is safe to mirror on disk (relative, no "..", no empty or "." parts).
bool is_safe_repo_path(const std::string& path);

}  // namespace sdw::net
