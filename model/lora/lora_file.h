// A LoRA file read into its layers (down/up/alpha per targeted module), in either format
// diffusers loads (`load_lora_weights`):
//   kohya / A1111: `lora_unet_<module>`, `lora_te_<module>` (SDXL: `lora_te1_`, `lora_te2_`) with
//     `.lora_down.weight`, `.lora_up.weight`, `.alpha` (0-dim; absent: alpha = rank); the module
//     path is written with `_` for `.` (diffusers names for SD1/2, SGM/LDM block names in SDXL
//     files), so it is resolved against a model's module tree later (lora_targets.h);
//   diffusers / PEFT: `unet.<module>.lora_A.weight` / `.lora_B.weight` (also the older
//     `.lora.down/up.weight`, `.lora_linear_layer.down/up.weight`), `text_encoder.`,
//     `text_encoder_2.`; no alpha (alpha = rank) unless a `<module>.alpha` is stored.
// Only safetensors: pickle files (.ckpt, .pt, .pth, .bin) are refused, never unpickled.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sdw {

// A LoRA file that cannot be read or used as asked; the message names the file and the key.
class LoraError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class LoraComponent { unet, text_encoder, text_encoder_2 };
const char* component_name(LoraComponent c);  // "unet", "text_encoder", "text_encoder_2"

enum class LoraNaming {
  kohya,     // module path with '_' for '.', resolved against the model's modules
  diffusers  // dotted module path (diffusers / PEFT files)
};

// One targeted module.
struct LoraLayer {
  std::string key;   // the file's key stem: "lora_unet_input_blocks_4_1_proj_in", "unet.mid_block...to_q"
  LoraComponent component = LoraComponent::unet;
  LoraNaming naming = LoraNaming::kohya;
  std::string module;  // the stem without its component prefix ("input_blocks_4_1_proj_in", "mid_block...to_q")
  at::Tensor down;     // [r, in] or [r, in, kh, kw] (PEFT lora_A), as stored (CPU, file dtype)
  at::Tensor up;       // [out, r] or [out, r, 1, 1] (PEFT lora_B)
  std::optional<double> alpha;

  int64_t rank() const { return down.size(0); }
  // alpha / rank (1 without alpha), the factor diffusers' PEFT layers call `scaling` at weight 1.
  double scale() const { return alpha ? *alpha / static_cast<double>(rank()) : 1.0; }
};

struct LoraFile {
  std::string path;
  std::string format;  // "kohya", "peft", or "kohya+peft" (a file mixing both)
  std::vector<LoraLayer> layers;  // sorted by key
  // Keys no rule reads (DoRA scales, LoHa/LoKr factors, foreign names): refused when the file is
  // applied, unless the use sets ignore_unmatched.
  std::vector<std::string> unknown_keys;
  std::map<std::string, std::string> metadata;
  uint64_t file_size = 0;
  int64_t tensor_bytes = 0;  // bytes of the down/up/alpha tensors
};

// A file's identity for caches: path, modification time and size.
struct FileStamp {
  std::string path;
  int64_t mtime_ns = 0;
  uint64_t size = 0;
  bool operator==(const FileStamp& o) const { return path == o.path && mtime_ns == o.mtime_ns && size == o.size; }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};
// Throws LoraError when the path is not a readable regular file.
FileStamp file_stamp(const std::string& path);

// Reads a LoRA safetensors file. Throws LoraError: pickle files (by extension or content),
// unreadable or malformed safetensors, a down without its up (or the reverse), ranks that differ
// between down and up, a non-scalar alpha, no LoRA tensor at all.
LoraFile read_lora_file(const std::string& path);
// The same over tensors already in memory (tests, tools); `name` stands for the path in messages.
LoraFile parse_lora_tensors(const std::map<std::string, at::Tensor>& tensors, const std::string& name);

}  // namespace sdw
