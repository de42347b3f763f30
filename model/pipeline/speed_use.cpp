// A job's DeepCache and ToMe (see speed_use.h).
#include "model/pipeline/speed_use.h"

#include <string>

#include "model/nn/transformer_2d.h"
#include "model/pipeline/rng.h"
#include "model/pipeline/sd_model.h"

namespace sdw {
namespace {

void set_tome(torch::nn::Module& root, const std::shared_ptr<nn::TomeState>& state) {
  for (const auto& m : root.modules(/*include_self=*/false))
    if (auto* block = dynamic_cast<nn::BasicTransformerBlockImpl*>(m.get())) block->tome_ = state;
}

}  // namespace

SpeedState speed_state_for(const SdModel& model, const ResolvedRequest& req) {
  const GenerationRequest& r = req.request;
  SpeedState s;
  if (model.is_sd3()) {  // no UNet: a job asking is refused, the worker's setting does not apply
    if (r.deepcache && r.deepcache->on()) throw RequestError("deepcache: SD3 has no UNet to cache");
    if (r.tome && r.tome->on()) throw RequestError("tome: token merging is for UNet models, not SD3");
    return s;
  }
  s.deepcache = r.deepcache.value_or(model.memory.deepcache);
  if (s.deepcache.on()) {
    const int64_t skips = unet_skip_count(*model.unet);
    if (s.deepcache.branch < 0 || s.deepcache.branch >= skips)
      throw RequestError("deepcache.branch: " + std::to_string(s.deepcache.branch) + " is outside 0.." +
                         std::to_string(skips - 1) + " for this UNet");
  }
  const TomeOptions tome = r.tome.value_or(model.memory.tome);
  if (tome.on()) {
    s.tome = std::make_shared<nn::TomeState>();
    s.tome->settings.ratio = tome.ratio;
    s.tome->generator = make_cpu_generator(req.seed);
  }
  return s;
}

at::Tensor speed_unet_forward(SdModel& model, SpeedState& speed, int64_t step, const at::Tensor& sample, double t,
                              const at::Tensor& context, const UNetAddedCond& added, const UNetControlResiduals& control) {
  if (speed.tome) {
    speed.tome->height = sample.size(2);  // tomesd: the UNet input's latent size
    speed.tome->width = sample.size(3);
  }
  TomeScope tome(*model.unet, speed.tome);
  const at::Tensor tt = at::scalar_tensor(t, at::TensorOptions().dtype(at::kDouble));
  if (!speed.deepcache.on()) return model.unet->forward(sample, tt, context, added, control);
  const bool full = step % speed.deepcache.interval == 0 || !speed.cache.features.defined() ||
                    speed.cache.features.size(0) != sample.size(0);
  return unet_forward_deep_cache(*model.unet, speed.cache, speed.deepcache.branch, full, sample, tt, context, added,
                                 control);
}

TomeScope::TomeScope(torch::nn::Module& root, std::shared_ptr<nn::TomeState> state) : root_(root) {
  if (!state) return;
  set_tome(root_, state);
  set_ = true;
}

TomeScope::~TomeScope() {
  if (set_) set_tome(root_, nullptr);
}

}  // namespace sdw
