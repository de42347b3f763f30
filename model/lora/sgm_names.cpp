// SGM/LDM UNet block names -> diffusers module names (see sgm_names.h).
#include "model/lora/sgm_names.h"

#include <cctype>
#include <utility>

namespace sdw {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Reads "<digits>_" at `pos`; returns the number and moves `pos` past the '_' (or to the end).
std::optional<int64_t> read_index(const std::string& s, size_t& pos) {
  size_t end = pos;
  while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
  if (end == pos || end - pos > 6) return std::nullopt;
  const int64_t v = std::stoll(s.substr(pos, end - pos));
  if (end < s.size()) {
    if (s[end] != '_') return std::nullopt;
    ++end;
  }
  pos = end;
  return v;
}

// Inside a resnet: the SGM layer names of its convolutions and time projection.
std::string resnet_tail(const std::string& tail) {
  static const std::pair<const char*, const char*> renames[] = {
      {"in_layers_2", "conv1"},
      {"out_layers_3", "conv2"},
      {"skip_connection", "conv_shortcut"},
      {"emb_layers_1", "time_emb_proj"},
  };
  for (const auto& [from, to] : renames)
    if (tail == from) return to;
  return tail;
}

std::string join(const std::string& block, const char* kind, int64_t index, const std::string& tail) {
  std::string out = block + "_" + kind + "_" + std::to_string(index);
  if (!tail.empty()) out += "_" + tail;
  return out;
}

}  // namespace

bool is_sgm_unet_name(const std::string& module) {
  return starts_with(module, "input_blocks_") || starts_with(module, "middle_block_") ||
         starts_with(module, "output_blocks_");
}

std::optional<std::string> sgm_to_diffusers_name(const std::string& module, int64_t layers_per_block) {
  const int64_t per = layers_per_block + 1;  // resnets (+ attentions) then a down/upsampler per level
  size_t pos = 0;
  if (starts_with(module, "input_blocks_")) {
    pos = std::string("input_blocks_").size();
    const auto i = read_index(module, pos);
    const auto j = read_index(module, pos);
    if (!i || !j || *i < 1) return std::nullopt;  // input_blocks_0_0 is conv_in: no block
    const std::string tail = module.substr(pos);
    const std::string block = "down_blocks_" + std::to_string((*i - 1) / per);
    if (tail == "op") return block + "_downsamplers_0_conv";
    if (*j == 0) return join(block, "resnets", (*i - 1) % per, resnet_tail(tail));
    if (*j == 1) return join(block, "attentions", (*i - 1) % per, tail);
    return std::nullopt;
  }
  if (starts_with(module, "middle_block_")) {
    pos = std::string("middle_block_").size();
    const auto i = read_index(module, pos);
    if (!i) return std::nullopt;
    const std::string tail = module.substr(pos);
    if (*i == 0) return join("mid_block", "resnets", 0, resnet_tail(tail));
    if (*i == 1) return join("mid_block", "attentions", 0, tail);
    if (*i == 2) return join("mid_block", "resnets", 1, resnet_tail(tail));
    return std::nullopt;
  }
  if (starts_with(module, "output_blocks_")) {
    pos = std::string("output_blocks_").size();
    const auto i = read_index(module, pos);
    const auto j = read_index(module, pos);
    if (!i || !j) return std::nullopt;
    const std::string tail = module.substr(pos);
    const std::string block = "up_blocks_" + std::to_string(*i / per);
    if (*j == 0) return join(block, "resnets", *i % per, resnet_tail(tail));
    if (*j == 1 && tail == "conv") return block + "_upsamplers_0_conv";
    if (*j == 1) return join(block, "attentions", *i % per, tail);
    if (*j == 2) return join(block, "upsamplers", 0, tail);
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace sdw
