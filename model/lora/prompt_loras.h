// A1111's extra-network prompt syntax for LoRAs: `<lora:name:0.8>` (`<lora:name>` = strength 1)
// anywhere in a prompt applies that LoRA and is cut out of the text. As A1111's
// extra_networks.parse_prompt does (regex `<(\w+):([^>]+)>`, each match replaced by ""), only the
// tag's own characters go: "a <lora:x:1> cat" becomes "a  cat", which the CLIP tokenizer reads as
// "a cat" (it collapses whitespace), so the tokens equal those of the prompt typed without the tag.
// Arguments as A1111's Lora extension reads them: name, then the text-encoder multiplier
// (default 1.0), then the UNet multiplier (default: the text-encoder one), or `te=` / `unet=`.
// `lyco` is A1111's alias for `lora`. Other extra networks (`<hypernet:...>`) stay in the text.
#pragma once

#include <string>
#include <vector>

namespace sdw {

struct PromptLora {
  std::string name;  // as written: a file name without extension, resolved by the caller
  double strength = 1.0;
};

struct PromptLoras {
  std::string prompt;  // the text without the LoRA tags
  std::vector<PromptLora> loras;  // in the order written
};

// Throws LoraError for a tag without a name, a strength that is not a finite number, separate
// UNet and text-encoder strengths (one strength applies to both here) or `dyn=`.
PromptLoras extract_prompt_loras(const std::string& prompt);

}  // namespace sdw
