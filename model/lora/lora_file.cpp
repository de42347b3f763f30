// Reading LoRA files in the kohya and diffusers/PEFT formats (see lora_file.h).
#include "model/lora/lora_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "model/safetensors/pickle_guard.h"
#include "model/safetensors/safetensors.h"

namespace sdw {
namespace {

enum class Role { down, up, alpha };

struct KeyParts {
  LoraComponent component = LoraComponent::unet;
  LoraNaming naming = LoraNaming::kohya;
  std::string stem;    // the key without its role suffix
  std::string module;  // the stem without its component prefix
  Role role = Role::down;
};

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// kohya: `<prefix><module with _>.<role>`; the stem ends at the first '.'.
std::optional<KeyParts> parse_kohya_key(const std::string& key) {
  static const std::pair<const char*, LoraComponent> prefixes[] = {
      {"lora_unet_", LoraComponent::unet},
      {"lora_te1_", LoraComponent::text_encoder},
      {"lora_te2_", LoraComponent::text_encoder_2},
      {"lora_te_", LoraComponent::text_encoder},
  };
  static const std::pair<const char*, Role> roles[] = {
      {"lora_down.weight", Role::down}, {"lora_up.weight", Role::up}, {"alpha", Role::alpha}};
  const size_t dot = key.find('.');
  if (dot == std::string::npos) return std::nullopt;
  KeyParts k;
  k.naming = LoraNaming::kohya;
  k.stem = key.substr(0, dot);
  const std::string suffix = key.substr(dot + 1);
  bool role_found = false;
  for (const auto& [name, role] : roles)
    if (suffix == name) {
      k.role = role;
      role_found = true;
    }
  if (!role_found) return std::nullopt;
  for (const auto& [prefix, component] : prefixes)
    if (starts_with(k.stem, prefix) && k.stem.size() > std::strlen(prefix)) {
      k.component = component;
      k.module = k.stem.substr(std::strlen(prefix));
      return k;
    }
  return std::nullopt;
}

// diffusers / PEFT: `<component>.<dotted module>.<role>`.
std::optional<KeyParts> parse_diffusers_key(const std::string& key) {
  static const std::pair<const char*, LoraComponent> prefixes[] = {
      {"text_encoder_2.", LoraComponent::text_encoder_2},
      {"text_encoder.", LoraComponent::text_encoder},
      {"unet.", LoraComponent::unet},
  };
  static const std::pair<const char*, Role> roles[] = {
      {".lora_A.weight", Role::down},
      {".lora_B.weight", Role::up},
      {".lora.down.weight", Role::down},
      {".lora.up.weight", Role::up},
      {".lora_linear_layer.down.weight", Role::down},
      {".lora_linear_layer.up.weight", Role::up},
      {".alpha", Role::alpha},
  };
  KeyParts k;
  k.naming = LoraNaming::diffusers;
  bool prefix_found = false;
  size_t prefix_len = 0;
  for (const auto& [prefix, component] : prefixes)
    if (starts_with(key, prefix)) {
      k.component = component;
      prefix_len = std::strlen(prefix);
      prefix_found = true;
      break;
    }
  if (!prefix_found) return std::nullopt;
  for (const auto& [suffix, role] : roles)
    if (ends_with(key, suffix) && key.size() > prefix_len + std::strlen(suffix)) {
      k.role = role;
      k.stem = key.substr(0, key.size() - std::strlen(suffix));
      k.module = k.stem.substr(prefix_len);
      return k;
    }
  return std::nullopt;
}

std::optional<KeyParts> parse_key(const std::string& key) {
  if (auto k = parse_kohya_key(key)) return k;
  return parse_diffusers_key(key);
}

std::string shape_text(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// Pickle files are never opened as such (model/safetensors/pickle_guard.h).
void refuse_pickle(const std::string& path) {
  const std::string reason = pickle_reason(path);
  if (!reason.empty())
    throw LoraError("LoRA file '" + path + "' is " + reason +
                    "; only .safetensors LoRAs are loaded (pickle files can run code when read)");
}

}  // namespace

const char* component_name(LoraComponent c) {
  switch (c) {
    case LoraComponent::unet: return "unet";
    case LoraComponent::text_encoder: return "text_encoder";
    case LoraComponent::text_encoder_2: return "text_encoder_2";
  }
  return "?";
}

FileStamp file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw LoraError("LoRA file '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw LoraError("LoRA file '" + path + "' is not a regular file");
  FileStamp s;
  s.path = path;
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  s.size = static_cast<uint64_t>(st.st_size);
  return s;
}

LoraFile parse_lora_tensors(const std::map<std::string, at::Tensor>& tensors, const std::string& name) {
  struct Partial {
    KeyParts parts;
    at::Tensor down, up, alpha;
    std::string down_key, up_key, alpha_key;
  };
  LoraFile f;
  f.path = name;
  std::vector<std::string> order;  // stems in first-seen order (std::map sorts keys: the file's order)
  std::map<std::string, Partial> partial;
  bool kohya = false, diffusers = false;
  for (const auto& [key, tensor] : tensors) {
    auto k = parse_key(key);
    if (!k) {
      f.unknown_keys.push_back(key);
      continue;
    }
    if (!at::isFloatingType(tensor.scalar_type()))
      throw LoraError("LoRA file '" + name + "': key '" + key + "' has a non-float dtype (" +
                      c10::toString(tensor.scalar_type()) + ")");
    auto [it, inserted] = partial.try_emplace(k->stem);
    if (inserted) order.push_back(k->stem);
    Partial& p = it->second;
    p.parts = *k;
    at::Tensor* slot = k->role == Role::down ? &p.down : k->role == Role::up ? &p.up : &p.alpha;
    std::string* slot_key = k->role == Role::down ? &p.down_key : k->role == Role::up ? &p.up_key : &p.alpha_key;
    if (slot->defined())
      throw LoraError("LoRA file '" + name + "': keys '" + *slot_key + "' and '" + key + "' give the same tensor");
    *slot = tensor;
    *slot_key = key;
    f.tensor_bytes += static_cast<int64_t>(tensor.numel() * tensor.element_size());
  }
  for (const std::string& stem : order) {
    Partial& p = partial.at(stem);
    if (!p.down.defined() && !p.up.defined()) {  // an alpha alone
      f.unknown_keys.push_back(p.alpha_key);
      continue;
    }
    if (!p.down.defined())
      throw LoraError("LoRA file '" + name + "': key '" + p.up_key + "' has no down/lora_A partner for '" + stem + "'");
    if (!p.up.defined())
      throw LoraError("LoRA file '" + name + "': key '" + p.down_key + "' has no up/lora_B partner for '" + stem + "'");
    if ((p.down.dim() != 2 && p.down.dim() != 4) || (p.up.dim() != 2 && p.up.dim() != 4))
      throw LoraError("LoRA file '" + name + "': '" + stem + "' has down " + shape_text(p.down) + " and up " +
                      shape_text(p.up) + "; expected 2-D (Linear) or 4-D (Conv2d) tensors");
    if (p.up.dim() == 4 && (p.up.size(2) != 1 || p.up.size(3) != 1))
      throw LoraError("LoRA file '" + name + "': key '" + p.up_key + "' has shape " + shape_text(p.up) +
                      "; an up weight must be 1x1");
    if (p.down.size(0) != p.up.size(1) || p.down.size(0) == 0)
      throw LoraError("LoRA file '" + name + "': '" + stem + "' has down " + shape_text(p.down) + " and up " +
                      shape_text(p.up) + ": their ranks differ");
    LoraLayer layer;
    layer.key = stem;
    layer.component = p.parts.component;
    layer.naming = p.parts.naming;
    layer.module = p.parts.module;
    layer.down = p.down;
    layer.up = p.up;
    if (p.alpha.defined()) {
      if (p.alpha.numel() != 1)
        throw LoraError("LoRA file '" + name + "': key '" + p.alpha_key + "' has shape " + shape_text(p.alpha) +
                        "; alpha must be a scalar");
      layer.alpha = p.alpha.to(at::kDouble).reshape({}).item<double>();
    }
    (layer.naming == LoraNaming::kohya ? kohya : diffusers) = true;
    f.layers.push_back(std::move(layer));
  }
  if (f.layers.empty())
    throw LoraError("LoRA file '" + name + "' holds no LoRA tensors (no lora_down/lora_up or lora_A/lora_B keys)" +
                    (f.unknown_keys.empty() ? std::string() : "; first key: '" + f.unknown_keys.front() + "'"));
  f.format = kohya && diffusers ? "kohya+peft" : kohya ? "kohya" : "peft";
  return f;
}

LoraFile read_lora_file(const std::string& path) {
  const FileStamp stamp = file_stamp(path);
  refuse_pickle(path);
  std::map<std::string, at::Tensor> tensors;
  std::map<std::string, std::string> metadata;
  try {
    SafetensorsFile st = SafetensorsFile::open(path);
    tensors = st.tensors();
    metadata = st.metadata();
  } catch (const SafetensorsError& e) {
    throw LoraError(std::string("LoRA file is not a valid safetensors file: ") + e.what());
  }
  LoraFile f = parse_lora_tensors(tensors, path);
  f.metadata = std::move(metadata);
  f.file_size = stamp.size;
  return f;
}

}  // namespace sdw
