// SD3 component loading (see sd3_components.h).
#include "model/pipeline/sd3_components.h"

#include <stdexcept>

#include "model/loading/diffusers_folder.h"
#include "model/loading/state_dict.h"

namespace sdw {
namespace {

template <typename Config>
Config config_of(const std::string& dir, const char* what) {
  try {
    return Config::from_json(read_json_file(dir + "/config.json"));
  } catch (const std::invalid_argument& e) {
    throw LoadError(std::string(what) + " '" + dir + "': " + e.what());
  }
}

}  // namespace

T5EncoderModel load_t5_encoder(const std::string& dir, const at::TensorOptions& options, const std::string& variant) {
  T5EncoderModel model(config_of<T5Config>(dir, "T5 encoder"), options);
  auto tensors = read_component_tensors(dir, variant);
  // The embedding is tied: saved as shared.weight (transformers drops encoder.embed_tokens.weight).
  const bool has_shared = tensors.count("shared.weight") != 0, has_embed = tensors.count("encoder.embed_tokens.weight") != 0;
  if (has_shared && !has_embed) tensors["encoder.embed_tokens.weight"] = tensors["shared.weight"];
  if (has_embed && !has_shared) tensors["shared.weight"] = tensors["encoder.embed_tokens.weight"];
  LoadOptions o;
  o.what = "T5 encoder from " + dir;
  load_state_dict(*model, tensors, o);
  model->eval();
  return model;
}

SD3Transformer2DModel load_sd3_transformer(const std::string& dir, const at::TensorOptions& options,
                                           const std::string& variant) {
  SD3Transformer2DModel model(config_of<SD3Transformer2DConfig>(dir, "SD3 transformer"), options);
  LoadOptions o;
  o.what = "SD3 transformer from " + dir;
  load_state_dict(*model, read_component_tensors(dir, variant), o);
  model->eval();
  return model;
}

}  // namespace sdw
