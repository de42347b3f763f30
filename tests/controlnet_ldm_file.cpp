// The ControlLDM single-file writer (see controlnet_ldm_file.h).
#include "controlnet_ldm_file.h"

#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

#include "model/loading/diffusers_folder.h"
#include "model/safetensors/safetensors.h"

namespace sdw::test {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// diffusers prefix -> ControlLDM prefix for the tiny layouts: two levels of two resnets, a
// downsampler after the first; attention on level 0 (SD1.5) or level 1 (SDXL); 6 zero convs.
Pairs ldm_table(bool sdxl) {
  Pairs t = {{"time_embedding.linear_1.", "time_embed.0."},
             {"time_embedding.linear_2.", "time_embed.2."},
             {"conv_in.", "input_blocks.0.0."},
             {"controlnet_cond_embedding.conv_in.", "input_hint_block.0."},
             {"controlnet_cond_embedding.blocks.0.", "input_hint_block.2."},
             {"controlnet_cond_embedding.blocks.1.", "input_hint_block.4."},
             {"controlnet_cond_embedding.conv_out.", "input_hint_block.6."},
             {"down_blocks.0.resnets.0.", "input_blocks.1.0."},
             {"down_blocks.0.resnets.1.", "input_blocks.2.0."},
             {"down_blocks.0.downsamplers.0.conv.", "input_blocks.3.0.op."},
             {"down_blocks.1.resnets.0.", "input_blocks.4.0."},
             {"down_blocks.1.resnets.1.", "input_blocks.5.0."},
             {"mid_block.resnets.0.", "middle_block.0."},
             {"mid_block.attentions.0.", "middle_block.1."},
             {"mid_block.resnets.1.", "middle_block.2."},
             {"controlnet_mid_block.", "middle_block_out.0."}};
  for (int i = 0; i < 6; ++i) t.push_back({"controlnet_down_blocks." + std::to_string(i) + ".", "zero_convs." + std::to_string(i) + ".0."});
  if (sdxl) {
    t.push_back({"down_blocks.1.attentions.0.", "input_blocks.4.1."});
    t.push_back({"down_blocks.1.attentions.1.", "input_blocks.5.1."});
    t.push_back({"add_embedding.linear_1.", "label_emb.0.0."});
    t.push_back({"add_embedding.linear_2.", "label_emb.0.2."});
  } else {
    t.push_back({"down_blocks.0.attentions.0.", "input_blocks.1.1."});
    t.push_back({"down_blocks.0.attentions.1.", "input_blocks.2.1."});
  }
  return t;
}

// LDM ResBlock: in_layers = [GroupNorm, SiLU, Conv], emb_layers = [SiLU, Linear], out_layers =
// [GroupNorm, SiLU, Dropout, Conv], skip_connection.
const Pairs kResnet = {{"norm1.", "in_layers.0."},  {"conv1.", "in_layers.2."},  {"time_emb_proj.", "emb_layers.1."},
                       {"norm2.", "out_layers.0."}, {"conv2.", "out_layers.3."}, {"conv_shortcut.", "skip_connection."}};

std::string to_ldm(const std::string& name, bool sdxl) {
  const Pairs table = ldm_table(sdxl);
  const std::pair<std::string, std::string>* best = nullptr;
  for (const auto& p : table)
    if (starts_with(name, p.first) && (!best || p.first.size() > best->first.size())) best = &p;
  if (!best) return "";
  std::string rest = name.substr(best->first.size());
  if (best->first.find(".resnets.") != std::string::npos) {
    for (const auto& r : kResnet)
      if (starts_with(rest, r.first)) return best->second + r.second + rest.substr(r.first.size());
    return "";
  }
  return best->second + rest;
}

}  // namespace

std::string write_controlnet_ldm(const TempDir& tmp, const std::string& folder, const std::string& file,
                                 const std::string& prefix, bool sdxl) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : read_component_tensors(folder)) {
    const std::string ldm = to_ldm(name, sdxl);
    if (ldm.empty()) throw std::runtime_error("controlnet_ldm_file: no ControlLDM name for " + name);
    out[prefix + ldm] = t;
  }
  save_safetensors(tmp.file(file), out);
  return tmp.file(file);
}

}  // namespace sdw::test
