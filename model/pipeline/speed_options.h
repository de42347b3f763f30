// The options that do less work per image at a measured quality cost (issue 24; docs/speed_options.md):
// DeepCache (the UNet's deep features reused across steps, model/nets/unet_deep_cache.h) and token
// merging (ToMe for SD, model/nn/token_merge.h). Both off by default; set for a worker by
// `generate` / `serve` / `bench` flags (MemoryOptions) and for one job by its request.
#pragma once

#include <cstdint>

namespace sdw {

struct DeepCacheOptions {
  // A full UNet step every `interval` steps, cached steps between them; 0 or 1: off (1 runs the
  // DeepCache path with every step full, the exact image).
  int interval = 0;
  // The skip connection the shallow branch ends at (DeepCacheSDHelper's cache_branch_id).
  int branch = 0;
  bool on() const { return interval >= 1; }
};

struct TomeOptions {
  // The share of tokens merged before self-attention at full resolution (tomesd's ratio); < 0:
  // off (0 runs the ToMe path merging nothing: the exact image).
  double ratio = -1;
  bool on() const { return ratio >= 0; }
};

}  // namespace sdw
