// The catalog of model versions rbee names (--sd-version / --model v1-5 ...): Hugging Face repo,
// family, generation defaults and a memory estimate. Also the defaults a local folder gets from
// the family recognised in its configs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sdw {

struct CatalogEntry {
  std::string version;     // rbee name: "v1-5", "v2-1", "sd-turbo", ...
  std::string repo;        // Hugging Face repo id
  std::string family;      // "sd1", "sd2", "sdxl", "sd3", "demo"
  bool inpainting = false;
  int width = 512, height = 512;
  int steps = 20;
  double guidance = 7.5;
  std::string scheduler;   // "" = the repo's own
  int64_t parameters = 0;  // UNet + VAE + text encoder(s)
};

const std::vector<CatalogEntry>& catalog();
// By rbee version name or repo id (case-sensitive); nullopt if unknown.
std::optional<CatalogEntry> find_catalog_entry(const std::string& name_or_repo);
std::vector<std::string> catalog_versions();

// Bytes a model needs in memory: weights at `bytes_per_param` (4 fp32, 2 fp16/bf16; the VAE in
// fp32) plus activations of one batch-2 UNet step and the VAE decode at width x height.
int64_t estimate_memory_bytes(const CatalogEntry& entry, int bytes_per_param, int width, int height);
// Bytes of the UNet and text encoder weights (everything but the VAE) at `bytes_per_param`.
int64_t non_vae_weight_bytes(const CatalogEntry& entry, int bytes_per_param);

}  // namespace sdw
