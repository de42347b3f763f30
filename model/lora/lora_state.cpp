// Fusing and restoring LoRAs (see lora_state.h).
#include "model/lora/lora_state.h"

#include <c10/core/InferenceMode.h>

#include <chrono>

#include "model/lora/lora_delta.h"

namespace sdw {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int64_t LoraState::saved_bytes() const {
  int64_t n = 0;
  for (const auto& [m, s] : saved_) n += static_cast<int64_t>(s.original.numel() * s.original.element_size());
  return n;
}

void LoraState::write_back() {
  c10::InferenceMode guard;
  // plain_weight unpacks a layer the CPU fast path packed since; its next product packs it again.
  for (auto& [m, s] : saved_) m->plain_weight().copy_(s.original);
}

void LoraState::restore() {
  write_back();
  saved_.clear();
  applied_.clear();
  applied_stamps_.clear();
}

LoraApplyStats LoraState::apply(const std::vector<LoraUse>& uses, LoraCache& cache) {
  LoraApplyStats st;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<FileStamp> stamps;
  for (const LoraUse& u : uses) stamps.push_back(file_stamp(u.path));
  if (uses == applied_ && stamps == applied_stamps_) {
    st.unchanged = true;
    st.files = static_cast<int64_t>(uses.size());
    return st;
  }

  // 1. read, map and check every file before any weight is written
  std::vector<std::shared_ptr<const LoraFile>> files;
  std::vector<std::vector<LoraTarget>> plans;
  for (const LoraUse& u : uses) {
    files.push_back(cache.get(u.path));
    plans.push_back(map_lora(*files.back(), index_, u.ignore_unmatched));
    st.modules += static_cast<int64_t>(plans.back().size());
  }
  st.files = static_cast<int64_t>(uses.size());
  st.check_ms = ms_since(t0);

  // 2. the previous set out
  t0 = std::chrono::steady_clock::now();
  write_back();
  applied_.clear();
  applied_stamps_.clear();
  st.restore_ms = ms_since(t0);

  // 3. originals of the weights this set touches (kept ones reused), then the deltas in order
  t0 = std::chrono::steady_clock::now();
  c10::InferenceMode guard;
  try {
    std::map<const LoraModule*, Saved> saved;
    for (const auto& plan : plans)
      for (const LoraTarget& t : plan) {
        if (saved.count(t.module)) continue;
        auto old = saved_.find(t.module);
        saved[t.module] = old != saved_.end() ? std::move(old->second) : Saved{t.module, t.module->plain_weight().clone()};
      }
    saved_ = std::move(saved);
    for (size_t i = 0; i < plans.size(); ++i)
      for (const LoraTarget& t : plans[i]) {
        const at::Tensor w = t.module->plain_weight();  // written in place: its storage stays
        const double factor = uses[i].strength * t.layer->scale();
        at::Tensor delta = lora_delta(*t.layer, w.sizes(), factor, w.device());  // float32, w's shape
        w.add_(delta.to(w.scalar_type()));
      }
  } catch (...) {
    write_back();
    saved_.clear();
    throw;
  }
  applied_ = uses;
  applied_stamps_ = std::move(stamps);
  st.tensors = static_cast<int64_t>(saved_.size());
  st.saved_bytes = saved_bytes();
  st.fuse_ms = ms_since(t0);
  return st;
}

}  // namespace sdw
