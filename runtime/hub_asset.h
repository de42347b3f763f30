// Single files named by "hf://org/name[@revision]/path" references (LoRAs), found in or
// downloaded into huggingface_hub's cache through the Hub client (environment as for models:
// HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE). Only .safetensors files: a
// pickle is refused before any request.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "net/hub/hub_download.h"

namespace sdw {

// LoRA files larger than this are not downloaded (the largest SDXL LoRAs are under 1 GiB).
constexpr int64_t kMaxHubLoraBytes = int64_t{2} << 30;

// The local path of the file `reference` names. Throws net::HubError (invalid_reference: not an
// hf:// file reference of a .safetensors file).
std::string resolve_hub_file(const std::string& reference, int64_t max_bytes, const net::HubProgress& progress = {},
                             const std::function<void(const std::string&)>& note = {});

}  // namespace sdw
