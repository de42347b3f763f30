// A request's LoRAs on a model: checked when the request is resolved (before any stage runs),
// fused into the weights when its prompt is encoded (encode_prompt calls apply_request_loras
// first, so text-encoder LoRAs act on the prompt and the actors' encoder stage applies them as
// `generate` does). See model/lora/lora_state.h for how fusing and restoring work.
#pragma once

#include <vector>

#include "model/lora/lora_cache.h"
#include "model/lora/lora_targets.h"
#include "model/lora/lora_state.h"
#include "model/pipeline/sd_model.h"

namespace sdw {

// The UNet and text encoders of a model, as LoRA targets.
LoraModelParts lora_parts(const SdModel& model);

// Reads (through the cache) and maps every LoRA onto the model, without writing anything:
// unreadable or pickle files, SDXL LoRAs on SD1.x/2.x models (and the reverse), unmatched keys
// and shapes that do not fit are RequestErrors naming the file and the key.
void check_request_loras(const SdModel& model, const std::vector<LoraUse>& loras,
                         LoraCache& cache = default_lora_cache());

// Brings the model's fused LoRAs to exactly `loras` (empty: the base weights, byte for byte);
// the same set as the previous call costs nothing. Throws LoraError (nothing is left half-applied).
LoraApplyStats apply_request_loras(SdModel& model, const std::vector<LoraUse>& loras,
                                   LoraCache& cache = default_lora_cache());

}  // namespace sdw
