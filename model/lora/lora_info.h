// What a LoRA file is for, read from its keys and shapes: the base family it was trained on
// (for listings and for refusing an SDXL LoRA on an SD1.x model, or the reverse, before anything
// is modified), its rank and size.
#pragma once

#include <cstdint>
#include <string>

#include "model/lora/lora_file.h"

namespace sdw {

struct LoraFamilyGuess {
  std::string family;     // "sd1", "sd2", "sdxl", or "" when neither keys nor shapes say
  std::string reason;     // what gave it away, for messages ("lora_te2_ keys", "cross-attention width 2048")
  bool definite = false;  // from markers only that family has: a mismatch with the model is refused
};

// In order: text_encoder_2 / lora_te1_ / lora_te2_ keys (SDXL, definite); the UNet's
// cross-attention width from attn2.to_k/to_v (768 SD1.x, 1024 SD2.x, 2048 SDXL, definite); the
// text encoder's width (1024: SD2.x, definite; 768: SD1.x); SGM block names (SDXL: kohya's
// sd-scripts writes SDXL files so); kohya text-encoder or UNet keys in diffusers form (SD1.x).
LoraFamilyGuess guess_lora_family(const LoraFile& file);

struct LoraInfo {
  std::string path;
  std::string format;  // "kohya", "peft", "kohya+peft"
  std::string family;  // as guessed, "unknown" when no guess
  int64_t rank = 0;    // the largest rank of its layers
  int64_t min_rank = 0;
  int64_t modules = 0;  // targeted modules, all components
  int64_t unet_modules = 0, text_encoder_modules = 0, text_encoder_2_modules = 0;
  bool conv3x3 = false;  // LoCon: 3x3 convolution layers
  uint64_t file_size = 0;
};

LoraInfo describe_lora(const LoraFile& file);

}  // namespace sdw
