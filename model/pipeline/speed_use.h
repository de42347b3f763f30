// A job's DeepCache and ToMe (speed_options.h) in its denoising loop: the settings in force (the
// request's, else the worker's), the job's deep-feature cache and token-merge generator, and the
// UNet call that uses them. While either is on the UNet runs eagerly (no CUDA graph: ToMe draws
// its random destinations on the host and DeepCache's two kinds of step differ in shape of work).
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "model/nets/unet_deep_cache.h"
#include "model/nn/token_merge.h"
#include "model/pipeline/request.h"
#include "model/pipeline/speed_options.h"

namespace sdw {

struct SdModel;

struct SpeedState {
  DeepCacheOptions deepcache;
  DeepCacheFeatures cache;
  std::shared_ptr<nn::TomeState> tome;  // null: off
  bool active() const { return deepcache.on() || tome != nullptr; }
};

// The request's settings, else the model's (MemoryOptions); ToMe's generator seeded with the
// job's seed. Throws RequestError for SD3 (no UNet) or a branch outside the UNet's skips.
SpeedState speed_state_for(const SdModel& model, const ResolvedRequest& request);

// One UNet evaluation of step `step` (0-based in this loop: DeepCache runs full on step 0, interval,
// 2 * interval, ...) with the job's settings; the arguments as UNetRunner::forward.
at::Tensor speed_unet_forward(SdModel& model, SpeedState& speed, int64_t step, const at::Tensor& sample, double t,
                              const at::Tensor& context, const UNetAddedCond& added, const UNetControlResiduals& control);

// Sets `state` as the ToMe of every transformer block under `root` while the scope lives (null: none).
class TomeScope {
 public:
  TomeScope(torch::nn::Module& root, std::shared_ptr<nn::TomeState> state);
  ~TomeScope();
  TomeScope(const TomeScope&) = delete;
  TomeScope& operator=(const TomeScope&) = delete;

 private:
  torch::nn::Module& root_;
  bool set_ = false;
};

}  // namespace sdw
