// One LoRA a request asks for: a resolved file and its strength. Plain C++ (no libtorch), so the
// request vocabulary that net/ and the actors share can carry it.
#pragma once

#include <string>
#include <tuple>

namespace sdw {

struct LoraUse {
  std::string path;               // an existing .safetensors file (resolved by the caller)
  double strength = 1.0;          // diffusers' adapter weight / lora_scale; may be negative
  bool ignore_unmatched = false;  // skip keys that match no module instead of refusing the file

  bool operator==(const LoraUse& o) const {
    return std::tie(path, strength, ignore_unmatched) == std::tie(o.path, o.strength, o.ignore_unmatched);
  }
  bool operator!=(const LoraUse& o) const { return !(*this == o); }
};

}  // namespace sdw
