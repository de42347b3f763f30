// `sd-worker bench --arch sd3` (see bench_sd3.h). Rows: the CLIP pair, T5, the whole prompt
// encoding, the denoising loop and its mean transformer step (CFG batch), the VAE decode, PNG
// encoding and end to end; each stage's peak memory is weights + that stage's working memory.
#include "runtime/bench_sd3.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "model/image/image_io.h"
#include "model/nn/device_names.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/sd3_model.h"
#include "model/pipeline/sd3_random.h"
#include "runtime/bench_timing.h"
#include "runtime/device_sync.h"
#include "runtime/model_source.h"

namespace sdw {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;

double module_gib(const torch::nn::Module& m) {
  double bytes = 0;
  for (const auto& p : m.parameters()) bytes += static_cast<double>(p.numel() * p.element_size());
  return bytes / kGiB;
}

// T5's tied embedding is registered under two names: counted once.
double t5_gib(const T5EncoderModel& t5) {
  double bytes = 0;
  for (const auto& p : t5->named_parameters())
    if (p.key() != "encoder.embed_tokens.weight") bytes += static_cast<double>(p.value().numel() * p.value().element_size());
  return bytes / kGiB;
}

}  // namespace

int run_sd3_bench(const Sd3BenchArgs& a) {
  c10::InferenceMode guard;
  ModelLoadOptions lo;
  lo.device = parse_device(a.device);
  apply_dtype_choice(a.dtype, lo);
  lo.load_t5 = !a.no_t5;
  lo.max_sequence_length = a.max_sequence_length;
  if (!a.t5_device.empty()) lo.t5_device = parse_device(a.t5_device);
  reset_peak_memory(lo.device);
  const auto t_build = std::chrono::steady_clock::now();
  std::shared_ptr<SdModel> model = make_random_sd3_model(data_dir() + "/configs/sd3", lo);
  const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_build).count();
  const double build_peak = peak_memory_bytes(lo.device) / kGiB;
  Sd3Components& parts = *model->sd3;
  const int width = a.width ? a.width : model->default_width;
  const int height = a.height ? a.height : model->default_height;
  const bool cfg = a.guidance > 1.0;
  const int64_t batch = (cfg ? 2 : 1) * a.batch;
  const int tokens = parts.default_max_sequence_length;
  std::printf("sd-worker bench: arch sd3 (SD3 Medium, random weights), %s %s, %dx%d, batch %d (transformer batch %lld), "
              "%d steps FlowMatchEulerDiscreteScheduler, guidance %g, %d CPU threads, T5 %s\n",
              a.device.c_str(), a.dtype.c_str(), width, height, a.batch, static_cast<long long>(batch), a.steps,
              a.guidance, at::get_num_threads(),
              parts.has_t5() ? ("on (" + std::to_string(tokens) + " tokens, " + parts.t5_device.str() + ")").c_str()
                             : "off (--no-t5: zeros)");
  std::printf("model built with random weights in %.0f ms (peak %.2f GiB while building); warm-up %d, median of %d "
              "runs; activations %s, VAE %s\n\n",
              build_ms, build_peak, a.warmup, a.runs, c10::toString(model->activation_dtype()),
              c10::toString(model->vae_dtype));
  table_header();

  const GenerationRequest req = bench_request(width, height, a.steps, a.guidance, a.batch);
  const ResolvedRequest resolved = resolve_request(*model, req, bench_limits());
  auto stage_peak = [&](const std::function<void()>& fn) { return stage_peak_gib(model->device, fn); };

  // 1. the CLIP pair alone (T5's part zeros), 2. T5 alone, 3. the whole prompt encoding
  ResolvedRequest clip_only = resolved;
  clip_only.request.t5 = false;
  double clip_ms = -1, t5_ms = -1, encode_ms = -1;
  const double clip_peak = stage_peak(
      [&] { clip_ms = time_ms(model->device, a.warmup, a.runs, [&] { encode_prompt(*model, clip_only); }); });
  row("CLIP-L + CLIP-G (+negative)", clip_ms, cfg ? "prompt and negative" : "prompt");
  double t5_peak = -1;
  if (parts.has_t5()) {
    const std::vector<int64_t> ids = parts.tokenizer_3->encode_padded(req.prompt, tokens);
    const at::Tensor x = at::tensor(ids, at::kLong).view({1, static_cast<int64_t>(ids.size())}).to(parts.t5_device);
    t5_peak = stage_peak([&] {
      t5_ms = time_ms(parts.t5_device, a.warmup, a.runs, [&] {
        for (int i = 0; i < (cfg ? 2 : 1); ++i) parts.text_encoder_3->forward(x);
      });
    });
    row("T5-XXL (+negative)", t5_ms, std::to_string(tokens) + " tokens each");
  } else {
    row("T5-XXL (+negative)", -1, "not loaded (--no-t5)");
  }
  PromptEmbeddings prompt;
  encode_ms = time_ms(model->device, a.warmup, a.runs, [&] { prompt = encode_prompt(*model, resolved); });
  row("prompt encoding (all)", encode_ms, "[" + std::to_string(prompt.context.size(0)) + ", " +
                                               std::to_string(prompt.context.size(1)) + ", " +
                                               std::to_string(prompt.context.size(2)) + "] embeddings");

  // 4. the denoising loop (its mean step), 5. VAE decode, 6. PNG, 7. end to end
  double loop_ms = -1, decode_ms = -1, png_ms = -1, e2e_ms = -1, e2e_peak = -1;
  int64_t steps = a.steps;
  const double loop_peak = stage_peak([&] {
    loop_ms = time_ms(model->device, std::min(a.warmup, 1), a.runs, [&] {
      DenoiseState s = prepare_denoise(*model, resolved, prompt);
      steps = s.total();
      while (!s.done()) denoise_step(*model, s);
    });
  });
  row("transformer step (mean)", loop_ms / static_cast<double>(steps), "batch " + std::to_string(batch));
  row("denoise loop", loop_ms, std::to_string(steps) + " steps");
  const int64_t f = model->vae_scale_factor();
  const at::Tensor latents = at::randn({a.batch, model->vae->config().latent_channels, height / f, width / f},
                                       at::TensorOptions().dtype(model->activation_dtype()).device(model->device));
  const double vae_peak =
      stage_peak([&] { decode_ms = time_ms(model->device, a.warmup, a.runs, [&] { decode_latents(*model, latents); }); });
  row("VAE decode", decode_ms, "batch " + std::to_string(a.batch));
  const std::vector<Image> images = to_images(decode_latents(*model, latents));
  png_ms = time_ms(model->device, a.warmup, a.runs, [&] {
    for (const auto& img : images) encode_png(img);
  });
  row("PNG encode", png_ms, std::to_string(a.batch) + " image(s)");
  if (a.end_to_end) {
    e2e_peak = stage_peak([&] {
      e2e_ms = time_ms(model->device, std::min(a.warmup, 1), a.runs, [&] {
        GenerationResult r = generate(*model, req, {}, bench_limits());
        for (const auto& img : r.images) encode_png(img);
      });
    });
    row("end to end (to PNG bytes)", e2e_ms, "");
  } else {
    row("end to end (to PNG bytes)", -1, "skipped (--no-end-to-end); about the sum of the rows above");
  }
  std::printf("\n");
  if (loop_ms > 0) std::printf("steps/s: %.4f\n", steps / (loop_ms / 1000.0));
  std::printf("peak memory: %.2f GiB (%s)\n",
              std::max({build_peak, clip_peak, t5_peak, loop_peak, vae_peak, e2e_peak}),
              model->device.is_cuda() ? "GPU allocated" : "CPU peak RSS");
  std::printf("peak memory by stage: build %.2f, CLIP %.2f, T5 %s, denoise loop %.2f, VAE decode %.2f, end to end %s GiB\n",
              build_peak, clip_peak, t5_peak < 0 ? "n/a" : std::to_string(t5_peak).substr(0, 5).c_str(), loop_peak,
              vae_peak, e2e_peak < 0 ? "n/a" : std::to_string(e2e_peak).substr(0, 5).c_str());
  std::printf("weights: %.2f GiB (transformer %.2f, T5 %.2f, CLIP-L %.2f, CLIP-G %.2f, VAE %.2f)\n",
              model->weight_bytes() / kGiB, module_gib(*parts.transformer),
              parts.has_t5() ? t5_gib(parts.text_encoder_3) : 0.0,
              module_gib(*model->text_encoder), module_gib(*model->text_encoder_2), module_gib(*model->vae));
  return 0;
}

}  // namespace sdw
