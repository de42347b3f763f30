// Where a LoRA file's layers land in a model: our modules keep their diffusers/transformers names
// (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`, `text_model.encoder.layers.0.
// self_attn.q_proj`), so a diffusers/PEFT key names its module directly and a kohya key is that
// name with '_' for '.' (SGM block names first mapped, see sgm_names.h). Every Linear and Conv2d
// of the UNet and text encoders is a possible target.
//
// The compatibility check runs here, before anything is modified: an SDXL LoRA on an SD1.x/2.x
// model or the reverse (lora_info.h), a key that matches no module (unless ignore_unmatched), a
// key the reader did not understand (same), and a shape that does not fit are LoraErrors naming
// the file, the key and both shapes.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/lora/lora_file.h"
#include "model/nn/packed_layer.h"

namespace sdw {

// The parts of a model a LoRA can patch.
struct LoraModelParts {
  std::string family;           // the model's: "sd1", "sd2", "sdxl", "demo"
  int64_t layers_per_block = 2;  // the UNet's (for SGM block names)
  std::shared_ptr<torch::nn::Module> unet, text_encoder, text_encoder_2;  // null: absent
};

// One patchable layer: an nn::Linear or nn::Conv2d. Its weight is read through the layer, never
// kept here: a layer packed for the CPU fast path holds its weight only in packed form
// (nn/packed_layer.h), and a handle kept here would keep the plain copy alive beside it.
struct LoraModule {
  LoraComponent component = LoraComponent::unet;
  std::string name;  // "down_blocks.0.attentions.0.proj_in"
  std::shared_ptr<nn::PackedLayer> leaf;
  // The weight's shape and dtype (a meta-device placeholder while the layer is packed).
  at::Tensor weight() const { return leaf->weights().plain; }
  // The plain weight itself (the layer unpacked first), for in-place writes and reading values.
  at::Tensor plain_weight() const {
    leaf->unpack();
    return leaf->weights().plain;
  }
};

// The patchable layers of a model by name, built once per model (the module tree does not change).
class LoraModuleIndex {
 public:
  explicit LoraModuleIndex(const LoraModelParts& parts);
  const LoraModelParts& parts() const { return parts_; }
  // By dotted name (diffusers keys) or by the name with '_' for '.' (kohya keys); null: none.
  const LoraModule* find(LoraComponent c, const std::string& dotted) const;
  const LoraModule* find_kohya(LoraComponent c, const std::string& underscored) const;
  bool has(LoraComponent c) const;
  const std::vector<LoraModule>& modules() const { return modules_; }

 private:
  LoraModelParts parts_;
  std::vector<LoraModule> modules_;
  std::map<std::pair<int, std::string>, size_t> by_name_, by_kohya_name_;
};

// One layer of a file on one module.
struct LoraTarget {
  const LoraLayer* layer = nullptr;  // in its LoraFile (the caller keeps the file alive)
  const LoraModule* module = nullptr;
};

// Every layer of `file` on the index's modules, checked (see above). Throws LoraError; modifies
// nothing. ignore_unmatched: layers that match no module and unknown keys are left out instead.
std::vector<LoraTarget> map_lora(const LoraFile& file, const LoraModuleIndex& index, bool ignore_unmatched);

// The module a layer lands on, or null: SGM names mapped, then looked up. `name` receives the
// name that was looked up (for messages).
const LoraModule* find_lora_module(const LoraLayer& layer, const LoraModuleIndex& index, std::string* name = nullptr);

}  // namespace sdw
