// DeepCache (Ma et al. 2023, "DeepCache: Accelerating Diffusion Models for Free"; horseee/DeepCache's
// DeepCacheSDHelper): adjacent denoising steps change the UNet's deep features little, so on a
// "cached" step only the shallow branch runs: conv_in and the down layers up to skip connection
// `branch`, then the up layers that read skips `branch`..0, starting from the features that entered
// the up layer reading skip `branch` at the last full step. A full step runs the whole UNet (the
// same operations as UNet2DConditionModel::forward, so its output is the same bytes) and keeps
// those features.
//
// Skips are numbered as the UNet makes them: 0 = conv_in's output, then each down layer's (a resnet
// with its attention, then the downsampler) in order. With two resnets per down block (SD1.x, SD2.x,
// SDXL) skip `branch` is DeepCacheSDHelper's cache_branch_id (block = id / 3, layer = id % 3): its
// cached steps skip the same layers.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "model/nets/unet_2d_condition.h"

namespace sdw {

// One job's cache: the deep features of its last full step ([B, C, h, w]; undefined before it).
struct DeepCacheFeatures {
  at::Tensor features;
  int64_t full_steps = 0, cached_steps = 0;
};

// The number of skip connections of `unet` (the largest branch is this minus 1).
int64_t unet_skip_count(const UNet2DConditionModelImpl& unet);

// The UNet's noise prediction with DeepCache at skip `branch`: `full` runs every layer and keeps
// the deep features in `cache`; otherwise the shallow branch runs from the kept features (a
// std::logic_error when there are none, or their batch differs). ControlNet residuals are added to
// the skips that run (the mid block's only on a full step). Arguments as UNet2DConditionModel::forward.
at::Tensor unet_forward_deep_cache(UNet2DConditionModelImpl& unet, DeepCacheFeatures& cache, int64_t branch, bool full,
                                   const at::Tensor& sample, const at::Tensor& timesteps, const at::Tensor& context,
                                   const UNetAddedCond& added = {}, const UNetControlResiduals& control = {});

}  // namespace sdw
