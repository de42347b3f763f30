// `sd-worker bench --deepcache N [--deepcache-branch B] --tome R`: each option's speed-up and its
// difference from the exact image, measured in A/B/A rounds in the same run (exact, with the
// option, exact again: drifting machine load shows as a gap between the two A rounds). Each round
// is the median of `runs` end-to-end generations (prompt, loop, VAE decode); the rows give the
// time per UNet step, the VAE decode, end to end and the round's peak memory.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/pipeline/request.h"

namespace sdw {

struct SdModel;

struct SpeedVariant {
  std::string name;  // "deepcache 2 (branch 0)", "tome 0.5"
  std::optional<DeepCacheOptions> deepcache;
  std::optional<TomeOptions> tome;
};

// The variants the flags ask for: each option alone, and both together when both are given.
std::vector<SpeedVariant> speed_variants(const DeepCacheOptions& deepcache, const TomeOptions& tome);

// Prints the A/B/A table of every variant for `request` (whose own options are left unset).
void run_speed_rounds(SdModel& model, const GenerationRequest& request, const RequestLimits& limits,
                      const std::vector<SpeedVariant>& variants, int runs);

}  // namespace sdw
