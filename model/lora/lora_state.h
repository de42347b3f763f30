// The LoRAs fused into one model's weights, and the originals of the weights they touched.
//
// Fusing (W += strength * alpha/rank * up @ down, diffusers' `fuse_lora`) was chosen over
// applying LoRAs at run time: a fused step costs what a plain step costs (see docs/lora.md for
// the measurements), and writing in place (`weight.add_`) keeps every tensor's storage, so CUDA
// graphs captured on those addresses stay valid. Before the first write, a copy of each touched
// weight (and only those) is kept; restoring copies it back, so a job without LoRAs after a LoRA
// job sees the base weights byte for byte. Deltas are computed in float32 and cast to the
// weight's dtype before the add (PEFT's `get_delta_weight` on fp16/bf16 weights); several LoRAs
// are added in the order given, as diffusers merges adapters.
//
// Applying the set already fused costs nothing; another set restores, then fuses. Everything is
// checked (files read, keys mapped, shapes) before the first weight is written; a failure while
// writing restores the originals. Not thread-safe: one device thread owns a model's state.
#pragma once

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "model/lora/lora_cache.h"
#include "model/lora/lora_targets.h"
#include "model/lora/lora_use.h"

namespace sdw {

struct LoraApplyStats {
  bool unchanged = false;   // the same set was fused already: nothing done
  int64_t files = 0;
  int64_t modules = 0;      // module patches, summed over the files
  int64_t tensors = 0;      // distinct weights touched (each saved once)
  int64_t saved_bytes = 0;  // bytes of the saved originals
  double check_ms = 0;      // read (or cache) + map + shape checks
  double restore_ms = 0;    // the previous set's weights back
  double fuse_ms = 0;       // saving originals + computing and adding the deltas
};

class LoraState {
 public:
  explicit LoraState(const LoraModelParts& parts) : index_(parts) {}

  // Brings the weights to exactly `uses` (empty: the base weights). Throws LoraError.
  LoraApplyStats apply(const std::vector<LoraUse>& uses, LoraCache& cache);
  // Copies every saved original back and forgets them (the base weights).
  void restore();
  const std::vector<LoraUse>& applied() const { return applied_; }
  int64_t saved_bytes() const;
  const LoraModuleIndex& index() const { return index_; }

 private:
  struct Saved {
    const LoraModule* module = nullptr;
    at::Tensor original;
  };
  void write_back();  // originals into the weights; keeps saved_

  LoraModuleIndex index_;
  std::vector<LoraUse> applied_;
  std::vector<FileStamp> applied_stamps_;
  std::map<const LoraModule*, Saved> saved_;
};

}  // namespace sdw
