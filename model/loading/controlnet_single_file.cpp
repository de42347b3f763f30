// Single-file ControlNets (see controlnet_single_file.h).
#include "model/loading/controlnet_single_file.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <vector>

#include "model/loading/single_file_keys.h"
#include "model/loading/state_dict.h"
#include "model/safetensors/pickle_guard.h"
#include "model/safetensors/safetensors.h"

namespace sdw {
namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

const std::string kPrefix = "control_model.";       // lllyasviel's ControlLDM
const std::string kUnet = "model.diffusion_model.";  // the LDM UNet names single_file_keys.h converts

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// "<head><int>.<rest>" -> (int, rest); (-1, "") when `name` does not have that form.
std::pair<int64_t, std::string> index_after(const std::string& name, const std::string& head) {
  if (!starts_with(name, head)) return {-1, ""};
  const size_t dot = name.find('.', head.size());
  if (dot == std::string::npos || dot == head.size()) return {-1, ""};
  const std::string digits = name.substr(head.size(), dot - head.size());
  if (!std::all_of(digits.begin(), digits.end(), ::isdigit)) return {-1, ""};
  return {std::stoll(digits), name.substr(dot + 1)};
}

enum class Layout { ldm, diffusers };

struct Stored {
  Layout layout = Layout::ldm;
  std::string prefix;              // "control_model." or ""
  Shapes shapes;                   // stored names (prefix removed; other names dropped) -> shape
  std::vector<std::string> names;  // the stored names kept, with their prefix
};

void refuse_pickle(const std::string& path) {
  const std::string reason = pickle_reason(path);
  if (!reason.empty())
    throw LoadError("ControlNet file '" + path + "' is " + reason +
                    "; only .safetensors ControlNets are loaded (pickle files can run code when read): convert it first");
  if (std::filesystem::path(path).extension() != ".safetensors")
    throw LoadError("ControlNet file '" + path + "' is not a .safetensors file");
}

Stored read_stored(const SafetensorsFile& f) {
  Stored s;
  bool prefixed = false;
  for (const auto& [name, info] : f.infos()) prefixed = prefixed || starts_with(name, kPrefix);
  if (prefixed) {
    s.prefix = kPrefix;  // a ControlLDM checkpoint: its control_model.* only (diffusers ignores a bundled base model)
  } else if (f.contains("controlnet_cond_embedding.conv_in.weight")) {
    s.layout = Layout::diffusers;
  } else if (!f.contains("input_hint_block.0.weight")) {
    throw LoadError("'" + f.path() +
                    "' is not a ControlNet: no control_model.*, input_hint_block.* or controlnet_cond_embedding.* tensors");
  }
  for (const auto& [name, info] : f.infos()) {
    if (!starts_with(name, s.prefix)) continue;
    s.shapes[name.substr(s.prefix.size())] = info.shape;
    s.names.push_back(name);
  }
  return s;
}

// The levels of the stored input_blocks: resnets per level and whether they carry a transformer
// (input_blocks.k.1); a downsampler (input_blocks.k.0.op) closes a level.
LdmLayout ldm_layout(const Shapes& shapes) {
  std::map<int64_t, std::set<std::string>> blocks;  // k -> "0", "0.op", "1"
  for (const auto& [name, shape] : shapes) {
    const auto [k, rest] = index_after(name, "input_blocks.");
    if (k < 1) continue;
    blocks[k].insert(starts_with(rest, "0.op.") ? "0.op" : rest.substr(0, rest.find('.')));
  }
  LdmLayout l;
  l.text_layers = -1;  // no text tower, no VAE
  l.include_vae = false;
  l.vae_prefix.clear();
  int64_t layers = 0;
  bool attention = false;
  for (const auto& [k, parts] : blocks) {
    if (parts.count("0.op")) {
      l.unet_layers_per_block.push_back(layers);
      l.unet_down_attention.push_back(attention);
      layers = 0;
      attention = false;
      continue;
    }
    ++layers;
    attention = attention || parts.count("1") != 0;
  }
  if (layers > 0) {
    l.unet_layers_per_block.push_back(layers);
    l.unet_down_attention.push_back(attention);
  }
  if (l.unet_layers_per_block.empty()) throw LoadError("ControlNet file: no input_blocks.* tensors");
  l.unet_up_attention.assign(l.unet_down_attention.rbegin(), l.unet_down_attention.rend());
  l.unet_add_embedding = shapes.count("label_emb.0.0.weight") != 0;
  return l;
}

// One stored LDM name (prefix removed) -> the diffusers name; "" when no rule applies.
std::string diffusers_name(const std::string& name, const LdmKeyMap& map, int64_t last_hint) {
  if (const auto [k, tail] = index_after(name, "input_hint_block."); k >= 0) {
    // Sequential(conv, SiLU, conv, SiLU, conv(stride 2), SiLU, ..., zero conv): convs at even indices.
    if (k == 0) return "controlnet_cond_embedding.conv_in." + tail;
    if (k == last_hint) return "controlnet_cond_embedding.conv_out." + tail;
    return k % 2 == 0 ? "controlnet_cond_embedding.blocks." + std::to_string(k / 2 - 1) + "." + tail : "";
  }
  if (const auto [n, tail] = index_after(name, "zero_convs."); n >= 0)
    return starts_with(tail, "0.") ? "controlnet_down_blocks." + std::to_string(n) + "." + tail.substr(2) : "";
  if (starts_with(name, "middle_block_out.0.")) return "controlnet_mid_block." + name.substr(19);
  const KeyConversion c = map.convert(kUnet + name);
  if (c.kind != KeyConversion::Kind::converted || c.targets.size() != 1 || c.targets[0].component != SdComponent::unet)
    return "";
  return c.targets[0].name;
}

// Stored name (with prefix) -> diffusers name, for every stored name of the ControlNet; unknown
// names map to "".
std::map<std::string, std::string> name_map(const Stored& s) {
  std::map<std::string, std::string> out;
  if (s.layout == Layout::diffusers) {
    for (const auto& n : s.names) out[n] = n;
    return out;
  }
  const LdmKeyMap map(ldm_layout(s.shapes));
  int64_t last_hint = -1;
  for (const auto& [name, shape] : s.shapes) last_hint = std::max(last_hint, index_after(name, "input_hint_block.").first);
  for (const auto& n : s.names) out[n] = diffusers_name(n.substr(s.prefix.size()), map, last_hint);
  return out;
}

// The ControlNetModel config the diffusers-named shapes describe (see the header for `like`).
ControlNetConfig infer_config(const Shapes& w, const UNet2DConditionConfig* like, const std::string& path) {
  auto has = [&](const std::string& n) { return w.count(n) != 0; };
  auto shape = [&](const std::string& n) -> const std::vector<int64_t>& {
    const auto it = w.find(n);
    if (it == w.end()) throw LoadError("ControlNet file '" + path + "' has no " + n);
    return it->second;
  };
  auto count = [&](const std::string& head, const std::string& tail) {
    int64_t k = 0;
    while (has(head + std::to_string(k) + tail)) ++k;
    return k;
  };
  std::vector<int64_t> channels, layers, depth;
  std::vector<std::string> types;
  std::string attention;  // the first transformer's prefix
  for (int64_t i = 0; has("down_blocks." + std::to_string(i) + ".resnets.0.conv1.weight"); ++i) {
    const std::string d = "down_blocks." + std::to_string(i) + ".";
    channels.push_back(shape(d + "resnets.0.conv1.weight")[0]);
    layers.push_back(count(d + "resnets.", ".conv1.weight"));
    const bool attn = has(d + "attentions.0.proj_in.weight");
    types.push_back(attn ? "CrossAttnDownBlock2D" : "DownBlock2D");
    depth.push_back(attn ? count(d + "attentions.0.transformer_blocks.", ".attn1.to_q.weight") : 1);
    if (attn && attention.empty()) attention = d + "attentions.0.";
  }
  if (channels.empty()) throw LoadError("ControlNet file '" + path + "': no down blocks");
  const int64_t mid_depth = count("mid_block.attentions.0.transformer_blocks.", ".attn1.to_q.weight");
  if (types.back() == "DownBlock2D") {
    depth.back() = mid_depth;  // diffusers builds the mid block with transformer_layers_per_block[-1]
  } else if (depth.back() != mid_depth) {
    throw LoadError("ControlNet file '" + path + "': the mid block has " + std::to_string(mid_depth) +
                    " transformer layers but the last level " + std::to_string(depth.back()));
  }
  if (attention.empty()) attention = "mid_block.attentions.0.";
  const int64_t cross = shape(attention + "transformer_blocks.0.attn2.to_k.weight")[1];
  std::vector<int64_t> cond{shape("controlnet_cond_embedding.conv_in.weight")[0]};
  for (int64_t k = 1; has("controlnet_cond_embedding.blocks." + std::to_string(k) + ".weight"); k += 2)
    cond.push_back(shape("controlnet_cond_embedding.blocks." + std::to_string(k) + ".weight")[0]);

  nlohmann::json j = {{"_class_name", "ControlNetModel"},
                      {"in_channels", shape("conv_in.weight")[1]},
                      {"block_out_channels", channels},
                      {"down_block_types", types},
                      {"layers_per_block", layers},
                      {"transformer_layers_per_block", depth},
                      {"cross_attention_dim", cross},
                      {"use_linear_projection", shape(attention + "proj_in.weight").size() == 2},
                      {"conditioning_channels", shape("controlnet_cond_embedding.conv_in.weight")[1]},
                      {"conditioning_embedding_out_channels", cond}};
  if (has("add_embedding.linear_1.weight")) {
    j["addition_embed_type"] = "text_time";
    j["projection_class_embeddings_input_dim"] = shape("add_embedding.linear_1.weight")[1];
  }
  // Not in the shapes: from the UNet it runs with when that is the same encoder, else the family's.
  if (like && like->block_out_channels == channels && like->down_block_types == types) {
    j["attention_head_dim"] = like->num_attention_heads;
    j["norm_num_groups"] = like->norm_num_groups;
    j["norm_eps"] = like->norm_eps;
    j["upcast_attention"] = like->upcast_attention;
    j["addition_time_embed_dim"] = like->addition_time_embed_dim;
    j["act_fn"] = like->act_fn;
    j["flip_sin_to_cos"] = like->flip_sin_to_cos;
    j["freq_shift"] = like->freq_shift;
    j["downsample_padding"] = like->downsample_padding;
    j["mid_block_scale_factor"] = like->mid_block_scale_factor;
    j["only_cross_attention"] = like->only_cross_attention;
  } else {
    std::vector<int64_t> heads;  // SD1.x: 8 heads (lllyasviel's cldm_v15.yaml); SD2.x/SDXL: 64-wide heads
    for (int64_t c : channels) heads.push_back(cross == 768 ? 8 : std::max<int64_t>(1, c / 64));
    j["attention_head_dim"] = heads;
    if (has("add_embedding.linear_1.weight")) j["addition_time_embed_dim"] = 256;  // SDXL's
  }
  try {
    return ControlNetConfig::from_json(j);
  } catch (const std::invalid_argument& e) {
    throw LoadError("ControlNet file '" + path + "': " + e.what());
  }
}

Shapes diffusers_shapes(const Stored& s) {
  Shapes out;
  for (const auto& [stored, name] : name_map(s))
    if (!name.empty()) out[name] = s.shapes.at(stored.substr(s.prefix.size()));
  return out;
}

}  // namespace

bool is_controlnet_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec) || std::filesystem::path(path).extension() != ".safetensors") return false;
  try {
    read_stored(SafetensorsFile::open(path));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

ControlNetConfig controlnet_file_config(const std::string& path, const UNet2DConditionConfig* like) {
  refuse_pickle(path);
  try {
    return infer_config(diffusers_shapes(read_stored(SafetensorsFile::open(path))), like, path);
  } catch (const SafetensorsError& e) {
    throw LoadError(e.what());
  }
}

std::map<std::string, at::Tensor> controlnet_file_tensors(const std::string& path) {
  refuse_pickle(path);
  try {
    const SafetensorsFile file = SafetensorsFile::open(path);
    const Stored s = read_stored(file);
    std::map<std::string, at::Tensor> out;
    std::string unknown;
    size_t n_unknown = 0;
    for (const auto& [stored, name] : name_map(s)) {
      if (name.empty()) {
        if (n_unknown++ < 8) unknown += (unknown.empty() ? "" : ", ") + stored;
        continue;
      }
      out[name] = file.get(stored);
    }
    if (n_unknown)
      throw LoadError("ControlNet file '" + path + "': " + std::to_string(n_unknown) + " tensors no ControlNet name matches (" +
                      unknown + (n_unknown > 8 ? ", ..." : "") + ")");
    return out;
  } catch (const SafetensorsError& e) {
    throw LoadError(e.what());
  }
}

ControlNetModel load_controlnet_file(const std::string& path, const at::TensorOptions& options,
                                     const UNet2DConditionConfig* like) {
  ControlNetModel net(controlnet_file_config(path, like), options);
  LoadOptions o;
  o.what = "ControlNet from " + path;
  load_state_dict(*net, controlnet_file_tensors(path), o);
  net->eval();
  return net;
}

}  // namespace sdw
