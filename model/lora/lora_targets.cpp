// LoRA layers onto a model's modules, with the compatibility check (see lora_targets.h).
#include "model/lora/lora_targets.h"

#include <algorithm>
#include <set>

#include "model/lora/lora_delta.h"
#include "model/lora/lora_info.h"
#include "model/lora/sgm_names.h"
#include "model/nn/layers.h"

namespace sdw {
namespace {

constexpr size_t kListedKeys = 8;  // keys named in one message; the rest are counted

std::string family_text(const std::string& family) {
  if (family == "sd1") return "SD1.x";
  if (family == "sd2") return "SD2.x";
  if (family == "sdxl") return "SDXL";
  if (family == "demo") return "the demo (SD1.x-like)";
  return family;
}

std::string underscored(std::string s) {
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

// Refuses a LoRA whose family markers contradict the model's (lora_info.h: definite guesses only).
void check_family(const LoraFile& file, const LoraFamilyGuess& g, const std::string& model_family) {
  if (!g.definite || model_family.empty()) return;
  const bool lora_xl = g.family == "sdxl", model_xl = model_family == "sdxl";
  const bool clash = lora_xl != model_xl || (!lora_xl && model_family != "demo" && g.family != model_family);
  if (!clash) return;
  throw LoraError("LoRA file '" + file.path + "' is an " + family_text(g.family) + " LoRA (" + g.reason +
                  ") and cannot be applied to this " + family_text(model_family) + " model");
}

// " (the LoRA looks like an SD1.x LoRA: ...; the model is SDXL)" when the guess differs.
std::string family_hint(const LoraFamilyGuess& g, const std::string& model_family) {
  if (g.family.empty() || g.family == model_family || (model_family == "demo" && g.family == "sd1")) return "";
  return " (the LoRA looks like an " + family_text(g.family) + " LoRA: " + g.reason + "; the model is " +
         family_text(model_family) + ")";
}

}  // namespace

LoraModuleIndex::LoraModuleIndex(const LoraModelParts& parts) : parts_(parts) {
  const std::pair<LoraComponent, std::shared_ptr<torch::nn::Module>> components[] = {
      {LoraComponent::unet, parts.unet},
      {LoraComponent::text_encoder, parts.text_encoder},
      {LoraComponent::text_encoder_2, parts.text_encoder_2},
  };
  std::set<std::pair<int, std::string>> ambiguous;
  for (const auto& [component, root] : components) {
    if (!root) continue;
    for (const auto& item : root->named_modules("", false)) {
      LoraModule m;
      m.component = component;
      m.name = item.key();
      m.leaf = std::dynamic_pointer_cast<nn::PackedLayer>(item.value());  // nn::Linear or nn::Conv2d
      if (!m.leaf) continue;
      const int c = static_cast<int>(component);
      const size_t i = modules_.size();
      by_name_[{c, m.name}] = i;
      auto [it, inserted] = by_kohya_name_.emplace(std::make_pair(c, underscored(m.name)), i);
      if (!inserted) ambiguous.insert(it->first);
      modules_.push_back(std::move(m));
    }
  }
  // Two modules whose names differ only in '.' vs '_' cannot be told apart by a kohya key.
  for (const auto& k : ambiguous) by_kohya_name_.erase(k);
}

bool LoraModuleIndex::has(LoraComponent c) const {
  switch (c) {
    case LoraComponent::unet: return parts_.unet != nullptr;
    case LoraComponent::text_encoder: return parts_.text_encoder != nullptr;
    case LoraComponent::text_encoder_2: return parts_.text_encoder_2 != nullptr;
  }
  return false;
}

const LoraModule* LoraModuleIndex::find(LoraComponent c, const std::string& dotted) const {
  auto it = by_name_.find({static_cast<int>(c), dotted});
  return it == by_name_.end() ? nullptr : &modules_[it->second];
}

const LoraModule* LoraModuleIndex::find_kohya(LoraComponent c, const std::string& name) const {
  auto it = by_kohya_name_.find({static_cast<int>(c), name});
  return it == by_kohya_name_.end() ? nullptr : &modules_[it->second];
}

const LoraModule* find_lora_module(const LoraLayer& layer, const LoraModuleIndex& index, std::string* name) {
  if (layer.naming == LoraNaming::diffusers) {
    if (name) *name = std::string(component_name(layer.component)) + "." + layer.module;
    return index.find(layer.component, layer.module);
  }
  std::string module = layer.module;
  if (layer.component == LoraComponent::unet && is_sgm_unet_name(module)) {
    auto mapped = sgm_to_diffusers_name(module, index.parts().layers_per_block);
    if (!mapped) {
      if (name) *name = "(no diffusers block for SGM name '" + module + "')";
      return nullptr;
    }
    module = *mapped;
  }
  if (name) *name = std::string(component_name(layer.component)) + " " + module;
  return index.find_kohya(layer.component, module);
}

std::vector<LoraTarget> map_lora(const LoraFile& file, const LoraModuleIndex& index, bool ignore_unmatched) {
  const std::string& model_family = index.parts().family;
  const LoraFamilyGuess guess = guess_lora_family(file);
  // 1. family markers against the model's family
  check_family(file, guess, model_family);
  const std::string hint = family_hint(guess, model_family);

  // 2. names: every layer on a module, every key understood
  std::vector<LoraTarget> targets;
  std::vector<std::string> unmatched;
  for (const LoraLayer& layer : file.layers) {
    std::string looked_up;
    const LoraModule* m = find_lora_module(layer, index, &looked_up);
    if (!m) {
      const std::string why = index.has(layer.component) ? looked_up + ": no such Linear/Conv2d"
                                                          : std::string("the model has no ") + component_name(layer.component);
      unmatched.push_back("'" + layer.key + "' (" + why + ")");
      continue;
    }
    targets.push_back({&layer, m});
  }
  if (!ignore_unmatched && (!unmatched.empty() || !file.unknown_keys.empty())) {
    std::string msg = "LoRA file '" + file.path + "'";
    if (!unmatched.empty()) {
      msg += ": " + std::to_string(unmatched.size()) + " of " + std::to_string(file.layers.size()) +
             " LoRA modules match no module of this model: ";
      for (size_t i = 0; i < std::min(unmatched.size(), kListedKeys); ++i) msg += (i ? ", " : "") + unmatched[i];
      if (unmatched.size() > kListedKeys) msg += ", ...";
    }
    if (!file.unknown_keys.empty()) {
      msg += std::string(unmatched.empty() ? ":" : ";") + " " + std::to_string(file.unknown_keys.size()) +
             " keys are not LoRA down/up/alpha tensors this worker reads: ";
      for (size_t i = 0; i < std::min(file.unknown_keys.size(), kListedKeys); ++i)
        msg += (i ? ", '" : "'") + file.unknown_keys[i] + "'";
      if (file.unknown_keys.size() > kListedKeys) msg += ", ...";
    }
    throw LoraError(msg + hint + " (ignore_unmatched skips them)");
  }

  // 3. one layer per module, shapes that fit
  std::set<const LoraModule*> seen;
  for (const LoraTarget& t : targets) {
    if (!seen.insert(t.module).second)
      throw LoraError("LoRA file '" + file.path + "': two keys patch " + component_name(t.module->component) + "." +
                      t.module->name + " (the second: '" + t.layer->key + "')");
    try {
      check_lora_fits(*t.layer, t.module->weight().sizes(), file.path,
                      std::string(component_name(t.module->component)) + "." + t.module->name + ".weight");
    } catch (const LoraError& e) {
      throw LoraError(e.what() + hint);
    }
  }
  return targets;
}

}  // namespace sdw
