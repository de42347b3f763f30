// DeepCache over the UNet's layers (see unet_deep_cache.h). The layers run here one by one in the
// order, and with the operations, of DownBlock/MidBlock/UpBlock::forward.
#include "model/nets/unet_deep_cache.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "model/nn/group_norm_silu.h"

namespace sdw {

int64_t unet_skip_count(const UNet2DConditionModelImpl& unet) {
  int64_t n = 1;  // conv_in
  for (const auto& block : unet.down_) n += static_cast<int64_t>(block->resnets_.size()) + (block->downsample_ ? 1 : 0);
  return n;
}

at::Tensor unet_forward_deep_cache(UNet2DConditionModelImpl& unet, DeepCacheFeatures& cache, int64_t branch, bool full,
                                   const at::Tensor& sample, const at::Tensor& timesteps, const at::Tensor& context,
                                   const UNetAddedCond& added, const UNetControlResiduals& control) {
  const int64_t skip_count = unet_skip_count(unet);
  if (branch < 0 || branch >= skip_count)
    throw std::invalid_argument("deepcache branch " + std::to_string(branch) + " is outside 0.." +
                                std::to_string(skip_count - 1) + " for this UNet");
  if (!full && (!cache.features.defined() || cache.features.size(0) != sample.size(0)))
    throw std::logic_error("deepcache: a cached step needs the features of a full step of the same batch");
  const auto& config = unet.config();
  at::Tensor emb = unet_time_embedding(config, unet.time_embedding, unet.add_embedding, sample, timesteps, added);  // [B, 4*C0]

  // 1. down: every layer (full), or those making skips 0..branch
  at::Tensor h = unet.conv_in->forward(sample);  // [B, C0, h, w]
  std::vector<at::Tensor> skips{h};
  auto wanted = [&] { return full || static_cast<int64_t>(skips.size()) <= branch; };
  for (auto& block : unet.down_) {
    for (size_t l = 0; l < block->resnets_.size() && wanted(); ++l) {
      h = block->resnets_[l]->forward(h, emb);
      if (!block->attentions_.empty()) h = block->attentions_[l]->forward(h, context);
      skips.push_back(h);
    }
    if (block->downsample_ && wanted()) {
      h = block->downsample_->forward(h);  // [B, C, h/2, w/2]
      skips.push_back(h);
    }
  }
  if (!control.empty()) {  // ControlNet: residual i onto skip i
    if (control.down.size() != static_cast<size_t>(skip_count) || !control.mid.defined())
      throw std::invalid_argument("ControlNet residuals: " + std::to_string(control.down.size()) + " down residuals for " +
                                  std::to_string(skip_count) + " skip connections");
    for (size_t i = 0; i < skips.size(); ++i) skips[i] = skips[i] + control.down[i];
  }

  // 2. mid (full steps only)
  if (full) {
    h = unet.mid_block->forward(h, emb, context);
    if (!control.empty()) h = h + control.mid;  // [B, C_last, h_last, w_last]
  } else {
    h = cache.features;
  }

  // 3. up: the layer reading skip `next`; on a cached step only those reading `branch`..0
  int64_t next = skip_count - 1;
  const size_t n_up = unet.up_.size();
  for (size_t i = 0; i < n_up; ++i) {
    auto& block = unet.up_[i];
    const int64_t layers = static_cast<int64_t>(block->resnets_.size());
    for (int64_t l = 0; l < layers; ++l, --next) {
      if (next > branch && !full) continue;
      if (next == branch && full) cache.features = h;  // the deep features the cached steps start from
      h = at::cat({h, skips[static_cast<size_t>(next)]}, 1);  // [B, C + Cskip, h, w]
      h = block->resnets_[static_cast<size_t>(l)]->forward(h, emb);
      if (!block->attentions_.empty()) h = block->attentions_[static_cast<size_t>(l)]->forward(h, context);
    }
    if (block->upsample_ && (full || next + 1 <= branch)) {
      std::vector<int64_t> size;  // the next skip's spatial size, as UNet2DConditionModel::forward passes it
      if (i + 1 < n_up && next >= 0) size = {skips[static_cast<size_t>(next)].size(2), skips[static_cast<size_t>(next)].size(3)};
      h = block->upsample_->forward(h, size);
    }
  }
  ++(full ? cache.full_steps : cache.cached_steps);

  // 4. post-process
  h = nn::norm_activation(unet.conv_norm_out, config.act_fn, h);
  return unet.conv_out->forward(h);  // [B, out_channels, h, w]
}

}  // namespace sdw
