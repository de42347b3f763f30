// The ControlNet step bench (see bench_controlnet.h).
#include "runtime/bench_controlnet.h"

#include <c10/core/InferenceMode.h>

#include <cstdio>
#include <string>
#include <vector>

#include "model/pipeline/controlnet_stage.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/stages.h"
#include "runtime/bench_timing.h"

namespace sdw {

int run_controlnet_bench(SdModel& model, int width, int height, double guidance, int warmup, int runs) {
  c10::InferenceMode guard;
  if (model.unet.is_empty()) {
    std::fprintf(stderr, "sd-worker bench: --controlnet needs a UNet model (not sd3)\n");
    return 2;
  }
  ControlNetConfig config;
  config.unet = model.unet->config();
  config.conditioning_embedding_out_channels = {16, 32, 96, 256};
  if (config.cond_downscale() != model.vae_scale_factor()) {
    std::fprintf(stderr, "sd-worker bench: --controlnet needs a model with VAE factor 8 (not --arch demo)\n");
    return 2;
  }
  ControlNetModel net(config, at::TensorOptions().dtype(at::kFloat));
  init_demo_weights(*net, 7);
  net->to(model.device, model.dtype);
  net->eval();
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();

  const bool cfg = guidance > 1.0;
  const int64_t batch = cfg ? 2 : 1;
  const int64_t f = model.vae_scale_factor();
  const auto opts = at::TensorOptions().dtype(model.activation_dtype()).device(model.device);
  const int64_t ctx_dim = config.unet.cross_attention_dim.front();
  at::Tensor x = at::randn({batch, config.unet.in_channels, height / f, width / f}, opts);         // [B, 4, h, w]
  at::Tensor context = at::randn({batch, 77, ctx_dim}, opts);                                     // [B, 77, D]
  ControlState control;
  ControlNetUnit unit;
  unit.net = net;
  unit.image = at::rand({batch, 3, height, width}, opts);  // [B, 3, H, W] in [0, 1]
  control.units.push_back(unit);
  UNetRunner& runner = model.unet_runner();
  auto plain = [&] { runner.forward(x, 500.0, context); };
  auto with_control = [&] {
    UNetControlResiduals r = control_residuals(control, x, 500.0, context, cfg, 0, 1);
    runner.forward(x, 500.0, context, {}, r);
  };
  auto control_only = [&] { control_residuals(control, x, 500.0, context, cfg, 0, 1); };

  std::printf("| %-28s | %12s | %s\n", "ControlNet step", "median ms", "note");
  std::printf("|------------------------------|--------------|------\n");
  std::vector<double> base, both, alone;
  std::string plain_mode;
  for (int round = 0; round < 3; ++round) {  // interleaved: drifting load hits every row alike
    base.push_back(time_ms(model.device, warmup, runs, plain));
    plain_mode = runner.stats().mode;
    both.push_back(time_ms(model.device, warmup, runs, with_control));
    alone.push_back(time_ms(model.device, warmup, runs, control_only));
  }
  const double b = median(base), w = median(both), c = median(alone);
  row("UNet step, no ControlNet", b, plain_mode + ", UNet batch " + std::to_string(batch));
  row("ControlNet alone", c, std::to_string(params / 1000000) + "M parameters, conditioning (16, 32, 96, 256)");
  row("UNet step + ControlNet", w, "as denoise_step runs it (eager UNet with the residuals)");
  row("overhead per step", w - b, std::to_string(static_cast<int>(100.0 * (w - b) / b + 0.5)) + "% of the plain step");
  return 0;
}

}  // namespace sdw
