// `sd-worker bench` (see cli_bench.h). A benchmark is a program that prints a table, not a test:
// warm-ups first, then the median of the timed runs, with the device synchronised before each
// clock read. `--lora` measures LoRA fusing instead (two synthetic kohya files made for the
// model: first use, the same set again, a switch, back to the base, and a UNet step with and
// without a fused LoRA). `--img2img STRENGTH`: the loop and end-to-end rows run img2img from a
// synthetic init image, and the VAE encode gets its own row.
#include "runtime/cli_bench.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <unistd.h>

#include "model/image/image_io.h"
#include "model/loading/diffusers_folder.h"
#include "model/nn/fused_qkv.h"
#include "model/nn/weight_stream.h"
#include "model/lora/lora_cache.h"
#include "model/lora/lora_state.h"
#include "model/pipeline/model_loras.h"
#include "model/safetensors/safetensors.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/job_memory.h"
#include "model/pipeline/offload.h"
#include "model/pipeline/rng.h"
#include "runtime/bench_controlnet.h"
#include "runtime/bench_profile.h"
#include "runtime/bench_sd3.h"
#include "runtime/bench_concurrent.h"
#include "runtime/bench_speed.h"
#include "runtime/bench_timing.h"
#include "runtime/cli_memory.h"
#include "runtime/cpu_threads.h"
#include "runtime/device_sync.h"
#include "runtime/machine_fingerprint.h"
#include "runtime/model_source.h"

namespace sdw {
namespace {

struct BenchArgs {
  std::string arch = "demo";
  std::string device = "cpu";
  std::string dtype = "fp32";
  int width = 0, height = 0;
  int steps = 4;
  int batch = 1;
  std::string scheduler = "euler";
  double guidance = 7.5;
  int warmup = 1;
  int runs = 3;
  bool no_graph = false;
  bool channels_last = false, no_channels_last = false;
  std::string fuse_qkv = "auto";  // on | off | auto (nn/fused_qkv.h)
  std::string offload = "none";   // none | model | sequential (model/pipeline/offload.h)
  bool lora = false;
  bool controlnet = false;  // the step with one ControlNet against the plain step (bench_controlnet.h)
  int lora_rank = 16;
  double img2img = 0;  // > 0: img2img at this strength from a synthetic init image
  Sd3BenchArgs sd3;    // --arch sd3's own switches (--no-t5, --max-sequence-length, --t5-device, --no-end-to-end)
  int concurrent = 0;  // --concurrent N: one at a time vs continuously batched (bench_concurrent.h)
  DeepCacheOptions deepcache;  // --deepcache / --deepcache-branch / --tome: A/B/A rounds after the table (bench_speed.h)
  TomeOptions tome;
  // --vae-tiling / --vae-tile-size / --attention-slicing: the memory options' cost (memory_options.h).
  bool vae_tiling = false;
  int64_t vae_tile_size = 0;
  std::string attention_slicing;
  int profile = 0;  // --profile N: operator tables (N rows) of one UNet step and one VAE decode instead
};

// A smooth RGB pattern of the bench size: the init image of --img2img.
Image pattern_image(int width, int height) {
  Image img;
  img.width = width;
  img.height = height;
  img.channels = 3;
  img.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &img.pixels[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(255 * x / std::max(1, width - 1));
      p[1] = static_cast<uint8_t>(255 * y / std::max(1, height - 1));
      p[2] = static_cast<uint8_t>((x + y) % 256);
    }
  return img;
}

std::string arch_dir(const std::string& arch) {
  if (std::filesystem::is_directory(arch)) return arch;  // a diffusers folder's configs (tests/fixtures/pipelines/tiny-sd15)
  if (arch == "sd15") return data_dir() + "/configs/sd15";
  if (arch == "sd21") return data_dir() + "/configs/sd21";
  if (arch == "sdxl") return data_dir() + "/configs/sdxl";
  throw ModelSourceError("unknown --arch '" + arch + "' (valid: demo, sd15, sd21, sdxl, sd3)");
}

// A kohya-format LoRA of `rank` on what kohya's sd-scripts trains by default: every Linear/Conv2d
// of the UNet's transformer blocks (attention, feed-forward, proj_in/out) and the text encoders'
// attention and MLP layers; fp16 tensors, seeded.
int64_t write_synthetic_lora(const SdModel& model, const std::string& path, int64_t rank, uint64_t seed) {
  const LoraModuleIndex index(lora_parts(model));
  at::Generator gen = at::detail::createCPUGenerator(seed);
  std::map<std::string, at::Tensor> tensors;
  int64_t modules = 0;
  for (const LoraModule& m : index.modules()) {
    const bool unet = m.component == LoraComponent::unet;
    if (unet ? m.name.find("attentions.") == std::string::npos : m.name.find("encoder.layers.") == std::string::npos) continue;
    std::string stem = m.name;
    std::replace(stem.begin(), stem.end(), '.', '_');
    stem = (m.component == LoraComponent::unet ? "lora_unet_" : m.component == LoraComponent::text_encoder ? "lora_te1_" : "lora_te2_") + stem;
    if (m.component == LoraComponent::text_encoder && !model.is_sdxl()) stem.replace(0, 9, "lora_te_");
    std::vector<int64_t> down{rank, m.weight().size(1)}, up{m.weight().size(0), rank};
    if (m.weight().dim() == 4) {
      down.insert(down.end(), {m.weight().size(2), m.weight().size(3)});
      up.insert(up.end(), {1, 1});
    }
    tensors[stem + ".lora_down.weight"] = (at::randn(down, gen) * 0.1).to(at::kHalf);
    tensors[stem + ".lora_up.weight"] = (at::randn(up, gen) * 0.01).to(at::kHalf);
    tensors[stem + ".alpha"] = at::scalar_tensor(static_cast<double>(rank) / 2, at::kHalf);
    ++modules;
  }
  save_safetensors(path, tensors);
  return modules;
}

// Median ms of `fn` over `runs`, each after an untimed `setup`.
double timed_after(const at::Device& device, int runs, const std::function<void()>& setup, const std::function<void()>& fn) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    setup();
    synchronize(device);
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    synchronize(device);
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

int run_lora_bench(SdModel& model, const BenchArgs& a, int width, int height) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("sdw-lora-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  const std::string fa = (dir / "a.safetensors").string(), fb = (dir / "b.safetensors").string();
  const int64_t modules = write_synthetic_lora(model, fa, a.lora_rank, 1);
  write_synthetic_lora(model, fb, a.lora_rank, 2);
  const std::vector<LoraUse> set_a{LoraUse{fa, 0.8}}, set_b{LoraUse{fb, 0.6}}, none;
  LoraCache cache(int64_t{1} << 30);
  auto apply = [&](const std::vector<LoraUse>& s) { return apply_request_loras(model, s, cache); };
  const int runs = std::max(a.runs, 3);

  // UNet inputs as the denoising loop gives them (CFG batch), text conditioning of a real prompt.
  GenerationRequest req;
  req.prompt = "a photograph of an astronaut riding a horse on mars";
  req.negative_prompt = "blurry";
  req.width = width;
  req.height = height;
  req.guidance = a.guidance;
  RequestLimits limits;
  limits.max_side = 4096;
  limits.max_pixels = 4096ll * 4096;
  const ResolvedRequest resolved = resolve_request(model, req, limits);
  const PromptEmbeddings prompt = encode_prompt(model, resolved);
  const int64_t f = model.vae_scale_factor();
  const auto opts = at::TensorOptions().dtype(model.activation_dtype()).device(model.device);
  at::Tensor x = at::randn({(a.guidance > 1.0 ? 2 : 1) * int64_t{1}, model.unet->config().in_channels, height / f, width / f}, opts);
  if (model.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  UNetRunner& runner = model.unet_runner();
  auto unet_step = [&] { runner.forward(x, 500.0, prompt.context, prompt.added); };

  std::printf("| %-28s | %12s | %s\n", "LoRA step", "median ms", "note");
  std::printf("|------------------------------|--------------|------\n");
  LoraApplyStats first;
  std::vector<double> check_ms, fuse_ms;  // per run: the parts of first use
  const double first_ms = timed_after(model.device, runs, [&] { apply(none); cache.clear(); }, [&] {
    first = apply(set_a);
    check_ms.push_back(first.check_ms);
    fuse_ms.push_back(first.fuse_ms);
  });
  row("first use (read + fuse)", first_ms,
      std::to_string(modules) + " modules, rank " + std::to_string(a.lora_rank) + ", " +
          std::to_string(static_cast<int64_t>(fs::file_size(fa) >> 10)) + " KiB file; check " +
          std::to_string(median(check_ms)) + " ms, fuse " + std::to_string(median(fuse_ms)) + " ms (medians)");
  const double again_ms = timed_after(model.device, runs, [&] { apply(set_a); }, [&] { apply(set_a); });
  row("same set again", again_ms, "nothing to do");
  const double cached_ms = timed_after(model.device, runs, [&] { apply(none); }, [&] { apply(set_a); });
  row("fuse, file cached", cached_ms, "from the base weights");
  std::vector<double> restore_ms, switch_fuse_ms;
  const double switch_ms = timed_after(model.device, runs, [&] { apply(set_a); }, [&] {
    const LoraApplyStats sw = apply(set_b);
    restore_ms.push_back(sw.restore_ms);
    switch_fuse_ms.push_back(sw.fuse_ms);
  });
  row("switch A -> B (cached)", switch_ms,
      "restore " + std::to_string(median(restore_ms)) + " ms + fuse " + std::to_string(median(switch_fuse_ms)) + " ms (medians)");
  const double base_ms = timed_after(model.device, runs, [&] { apply(set_a); }, [&] { apply(none); });
  row("back to the base", base_ms, "restore only");
  // Interleaved rounds (base, fused, base, ...), each after a warm-up step (a fused weight's
  // prepacked copy is remade on its first use), so drifting machine load hits both alike.
  std::vector<double> base_steps, lora_steps;
  for (int round = 0; round < 3; ++round)
    for (auto* s : {&none, &set_a}) {
      apply(*s);
      (s == &none ? base_steps : lora_steps).push_back(time_ms(model.device, std::max(a.warmup, 1), a.runs, unet_step));
    }
  const double step_base = median(base_steps), step_lora = median(lora_steps);
  row("UNet step, no LoRA", step_base, runner.stats().mode);
  row("UNet step, LoRA fused", step_lora, "overhead " + std::to_string(step_lora - step_base) + " ms");
  std::printf("\nsaved originals while fused: %.1f MiB (%lld weights); weights %.1f MiB\n",
              static_cast<double>(first.saved_bytes) / (1 << 20), static_cast<long long>(first.tensors),
              static_cast<double>(model.weight_bytes()) / (1 << 20));
  apply(none);
  return 0;
}

// --profile: one UNet step (CFG batch) and one VAE decode, each after an untimed warm-up run.
int run_profile(SdModel& model, const BenchArgs& a, int width, int height) {
  const GenerationRequest req = bench_request(width, height, a.steps, a.guidance, a.batch);
  const PromptEmbeddings prompt = encode_prompt(model, resolve_request(model, req, bench_limits()));
  const int64_t f = model.vae_scale_factor();
  const auto opts = at::TensorOptions().dtype(model.activation_dtype()).device(model.device);
  at::Tensor x = at::randn({(a.guidance > 1.0 ? 2 : 1) * a.batch, model.unet->config().in_channels, height / f, width / f}, opts);
  if (model.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor latents = at::randn({a.batch, 4, height / f, width / f}, opts);
  UNetRunner& runner = model.unet_runner();
  auto step = [&] { runner.forward(x, 500.0, prompt.context, prompt.added); };
  auto decode = [&] { decode_latents(model, latents); };
  for (int i = 0; i < std::max(a.warmup, 1); ++i) step();
  print_op_profile("UNet step (batch " + std::to_string(x.size(0)) + ", " + runner.stats().mode + ")",
                   profile_ops(model.device, step), static_cast<size_t>(a.profile));
  for (int i = 0; i < a.warmup; ++i) decode();
  print_op_profile("VAE decode (batch " + std::to_string(a.batch) + ")", profile_ops(model.device, decode),
                   static_cast<size_t>(a.profile));
  return 0;
}

}  // namespace

int run_bench(int argc, char** argv) {
  BenchArgs a;
  CLI::App app{"Benchmark a full-size architecture with random weights (no download).", "sd-worker bench"};
  app.add_option("--arch", a.arch, "demo | sd15 | sd21 | sdxl | sd3 | a diffusers folder (its configs, random weights)");
  app.add_option("--device", a.device, "cpu | cuda:N | mps");
  app.add_option("--dtype", a.dtype, "fp32 | fp16 | bf16 | fp8 (CUDA sm_89+: the UNet's Linear layers in fp8)");
  app.add_option("--width", a.width, "image width (default: the architecture's)")->check(CLI::Range(64, 4096));
  app.add_option("--height", a.height, "image height (default: the architecture's)")->check(CLI::Range(64, 4096));
  app.add_option("--steps", a.steps, "denoising steps in the loop and end-to-end runs")->check(CLI::Range(1, 1000));
  app.add_option("--batch", a.batch, "images per prompt (the UNet runs 2x this with CFG)")->check(CLI::Range(1, 64));
  app.add_option("--scheduler", a.scheduler, "sampler");
  app.add_option("--guidance", a.guidance, "CFG scale (<= 1: no CFG, UNet batch = --batch)");
  app.add_option("--warmup", a.warmup, "untimed runs first")->check(CLI::Range(0, 100));
  app.add_option("--runs", a.runs, "timed runs (median reported)")->check(CLI::Range(1, 1000));
  app.add_flag("--no-graph", a.no_graph, "disable CUDA graph replay of the UNet step");
  app.add_option("--concurrent", a.concurrent,
                 "after the table: N jobs arriving together, one at a time vs continuously batched "
                 "(images/s, latency percentiles)")
      ->check(CLI::Range(2, 64));
  app.add_option("--offload", a.offload,
                 "CPU offload (model | sequential; GPU devices): the stages then include the weights' copies, and the "
                 "bytes moved are printed")
      ->check(CLI::IsMember({"none", "model", "sequential"}));
  app.add_flag("--lora", a.lora, "measure LoRA fusing (first use, cached, switch, restore, UNet step with/without) instead");
  app.add_flag("--controlnet", a.controlnet, "measure one ControlNet's cost per step (random weights) instead");
  app.add_option("--lora-rank", a.lora_rank, "rank of the synthetic LoRAs of --lora")->check(CLI::Range(1, 1024));
  app.add_option("--img2img", a.img2img, "measure img2img at this strength (a synthetic init image; adds the VAE encode)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--channels-last", a.channels_last, "UNet convolutions in channels_last (NHWC) (default: on for CUDA)")
      ->excludes(app.add_flag("--no-channels-last", a.no_channels_last, "UNet convolutions in NCHW also on CUDA"));
  app.add_option("--fuse-qkv", a.fuse_qkv, "self-attention q/k/v from one fused product: on, off, auto (default: "
                 "SDW_FUSE_QKV, else on for CUDA)")->check(CLI::IsMember({"on", "off", "auto"}));
  app.add_flag("--no-t5", a.sd3.no_t5, "sd3: without T5-XXL (its part of the prompt is zeros)");
  app.add_option("--max-sequence-length", a.sd3.max_sequence_length, "sd3: T5's token count (default 256)")
      ->check(CLI::Range(1, 512));
  app.add_option("--t5-device", a.sd3.t5_device, "sd3: the device T5 runs on (default: --device)");
  app.add_flag("--no-end-to-end", [&](int64_t) { a.sd3.end_to_end = false; },
               "sd3: leave out the end-to-end row (on a CPU it repeats every stage)");
  add_speed_options(app, a.deepcache, a.tome);
  app.add_flag("--vae-tiling", a.vae_tiling, "decode in VAE tiles (diffusers' enable_vae_tiling)");
  app.add_option("--vae-tile-size", a.vae_tile_size, "VAE tile size in image pixels (default: the VAE's sample_size)")
      ->check(CLI::Range(int64_t{8}, int64_t{8192}));
  app.add_option("--attention-slicing", a.attention_slicing, "UNet attention in slices: auto | max | N (default: off)");
  app.add_option("--profile", a.profile,
                 "print where one UNet step and one VAE decode spend their time (the N largest operators, "
                 "and by input shapes) instead of the table; on CUDA add --no-graph to see the step's operators")
      ->check(CLI::Range(1, 1000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    configure_cpu_threads(a.arch == "demo");
    std::printf("%s\n", describe(machine_fingerprint()).c_str());
    if (a.arch == "sd3") {
      Sd3BenchArgs& s = a.sd3;
      s.device = a.device;
      s.dtype = a.dtype;
      s.width = a.width;
      s.height = a.height;
      s.steps = a.steps;
      s.batch = a.batch;
      s.guidance = a.guidance;
      s.warmup = a.warmup;
      s.runs = a.runs;
      return run_sd3_bench(s);
    }
    c10::InferenceMode guard;
    ModelLoadOptions lo;
    lo.device = parse_device(a.device);
    apply_dtype_choice(a.dtype, lo);
    lo.cuda_graphs = !a.no_graph;
    if (a.channels_last || a.no_channels_last) lo.channels_last = a.channels_last;
    lo.fuse_qkv = nn::parse_fuse_qkv(a.fuse_qkv);
    lo.memory.offload = parse_offload_mode(a.offload);
    lo.memory.vae_tiling = a.vae_tiling;
    lo.memory.vae_tile_size = a.vae_tile_size;
    lo.memory.attention_slicing = a.attention_slicing;
    check_memory_options(lo.memory);
    check_offload_device(lo.memory, lo.device);
    const auto t_build = std::chrono::steady_clock::now();
    std::shared_ptr<SdModel> model = load_offloaded(lo, [&](const ModelLoadOptions& wo) {  // (the CPU under --offload)
      return a.arch == "demo" ? make_demo_model(wo) : make_random_model(arch_dir(a.arch), wo);
    });
    const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_build).count();
    UNetRunner& runner = model->unet_runner();
    const int width = a.width ? a.width : model->default_width;
    const int height = a.height ? a.height : model->default_height;
    const bool cfg = a.guidance > 1.0;
    const int64_t unet_batch = (cfg ? 2 : 1) * a.batch;
    const int64_t f = model->vae_scale_factor();
    const auto opts = at::TensorOptions().dtype(model->activation_dtype()).device(model->device);
    const auto& uc = model->unet->config();
    const double gib = 1024.0 * 1024 * 1024;
    const double build_peak = peak_memory_bytes(model->device) / gib, built_rss = current_rss_bytes() / gib;
    reset_peak_memory(model->device);

    std::printf("sd-worker bench: arch %s, %s %s, %dx%d, batch %d (UNet batch %lld), %d steps %s, guidance %g, "
                "%d CPU threads%s\n",
                a.arch.c_str(), a.device.c_str(), a.dtype.c_str(), width, height, a.batch,
                static_cast<long long>(unet_batch), a.steps, a.scheduler.c_str(), a.guidance, at::get_num_threads(),
                a.img2img > 0 ? (", img2img strength " + std::to_string(a.img2img)).c_str() : "");
    std::printf("model built with random weights in %.0f ms; warm-up %d, median of %d runs; memory format: %s; "
                "fused QKV %s; activations %s, VAE %s; VAE tiling %s; attention slicing %s; offload %s\n\n",
                build_ms, a.warmup, a.runs, model->channels_last ? "UNet channels_last" : "contiguous (NCHW)",
                model->fuse_qkv ? "on" : "off",
                c10::toString(model->activation_dtype()), c10::toString(model->vae_dtype),
                a.vae_tiling ? ("on, tile " + (a.vae_tile_size ? std::to_string(a.vae_tile_size) : std::string("default"))).c_str()
                             : "automatic",
                a.attention_slicing.empty() ? "off" : a.attention_slicing.c_str(), a.offload.c_str());
    if (a.lora) return run_lora_bench(*model, a, width, height);
    if (a.controlnet) return run_controlnet_bench(*model, width, height, a.guidance, a.warmup, a.runs);
    if (a.profile > 0) return run_profile(*model, a, width, height);
    table_header();

    // 1. text encoding (prompt + negative)
    GenerationRequest req = bench_request(width, height, a.steps, a.guidance, a.batch);
    req.scheduler = a.scheduler;
    if (a.img2img > 0) {
      req.mode = GenerationMode::img2img;
      req.strength = a.img2img;
      req.init_image = pattern_image(width, height);
    }
    PromptEmbeddings prompt;
    const ResolvedRequest resolved = resolve_request(*model, req, bench_limits());
    double encode_ms = -1;
    const double encode_peak =
        stage_peak_gib(model->device, [&] { encode_ms = time_ms(model->device, a.warmup, a.runs, [&] { prompt = encode_prompt(*model, resolved); }); });
    const at::Tensor& context = prompt.context;
    const UNetAddedCond& added = prompt.added;  // SDXL's pooled embeddings and time ids
    row("text encoder (+negative)", encode_ms, model->is_sdxl() ? "two encoders" : "");

    // 2. one UNet step (CFG batch)
    at::Tensor x = at::randn({unet_batch, uc.in_channels, height / f, width / f}, opts);
    if (model->channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    // Peak memory per stage (weights + that stage's working memory).
    auto stage_peak = [&](const std::function<void()>& fn) { return stage_peak_gib(model->device, fn); };
    double unet_ms = -1;
    const double unet_peak = stage_peak(
        [&] {
          unet_ms = time_ms(model->device, std::max(a.warmup, 1), a.runs, [&] {
            use_part(*model, ModelPart::denoiser);  // (--offload model: the UNet to the GPU on the warm-up run)
            runner.forward(x, 500.0, context, added);
          });
        });
    row("UNet step", unet_ms, "batch " + std::to_string(unet_batch) + ", " + runner.stats().mode);

    // 3. the denoising loop, 4. VAE decode, 5. image encode, 6. end to end
    double loop_ms = -1, decode_ms = -1, png_ms = -1, e2e_ms = -1, e2e_peak = -1;
    at::Tensor latents = at::randn({a.batch, 4, height / f, width / f}, opts);
    const double vae_peak = stage_peak([&] { decode_ms = time_ms(model->device, a.warmup, a.runs, [&] { decode_latents(*model, latents); }); });
    std::vector<Image> images = to_images(decode_latents(*model, latents));
    if (a.img2img > 0) {  // img2img: the init image through the VAE encoder (posterior moments)
      const at::Tensor image = image_to_tensor(req.init_image).to(model->device, model->vae_activation_dtype());
      const double enc_ms = time_ms(model->device, a.warmup, a.runs, [&] {
        use_part(*model, ModelPart::vae);
        model->vae->encode(image);
      });
      row("VAE encode (img2img)", enc_ms, "strength " + std::to_string(a.img2img));
    }
    png_ms = time_ms(model->device, a.warmup, a.runs, [&] {
      for (const auto& img : images) encode_png(img);
    });
    int64_t loop_steps = a.steps;  // img2img runs fewer (int(steps * strength))
    loop_ms = time_ms(model->device, a.warmup > 0 ? 1 : 0, a.runs, [&] {
      DenoiseState s = prepare_denoise(*model, resolved, prompt);
      loop_steps = s.total();
      while (!s.done()) denoise_step(*model, s);
    });
    e2e_peak = stage_peak([&] {
      e2e_ms = time_ms(model->device, a.warmup > 0 ? 1 : 0, a.runs, [&] {
        GenerationResult r = generate(*model, req, {}, bench_limits());
        for (const auto& img : r.images) encode_png(img);
      });
    });
    row("denoise loop", loop_ms, std::to_string(loop_steps) + " steps" + (a.img2img > 0 ? " (img2img, incl. VAE encode)" : ""));
    row("VAE decode", decode_ms, "batch " + std::to_string(a.batch));
    row("PNG encode", png_ms, std::to_string(a.batch) + " image(s)");
    row("end to end (to PNG bytes)", e2e_ms, "");
    std::printf("\n");
    if (loop_ms > 0) std::printf("steps/s: %.3f\n", loop_steps / (loop_ms / 1000.0));
    else std::printf("steps/s (UNet only): %.3f\n", 1000.0 / unet_ms);
    if (e2e_ms > 0) std::printf("images/s: %.4f\n", a.batch / (e2e_ms / 1000.0));
    double unet_bytes = 0;
    for (const auto& p : model->unet->parameters()) unet_bytes += static_cast<double>(p.numel() * p.element_size());
    std::printf("peak memory: %.2f GiB (%s)\n", std::max({encode_peak, unet_peak, vae_peak, e2e_peak}),
                model->device.is_cuda() ? "GPU allocated" : "CPU peak RSS");
    std::printf("peak memory by stage: build %.2f (then %.2f held), text encoder %.2f, UNet step %.2f, VAE decode %.2f, "
                "end to end %.2f GiB; weights %.2f GiB (UNet %.2f)\n",
                build_peak, built_rss, encode_peak, unet_peak, vae_peak, e2e_peak,
                model->weight_bytes() / (1024.0 * 1024 * 1024), unet_bytes / (1024.0 * 1024 * 1024));
    // The estimate the loader checks each job against (model/pipeline/job_memory.h), beside the
    // growth the stages measured (CPU: peak RSS over what the built model held).
    const JobMemory job_memory = estimate_job_memory(*model, resolved, -1);
    if (model->device.is_cpu())
      std::printf("job memory estimate: %s; measured growth over the held %.2f GiB: UNet step %.2f, VAE decode %.2f GiB "
                  "(with the first runs' weight packing and the fast path's work buffers, which the model's own estimate "
                  "counts)\n",
                  job_memory.describe().c_str(), built_rss, unet_peak - built_rss, vae_peak - built_rss);
    else
      std::printf("job memory estimate: %s\n", job_memory.describe().c_str());
    const UNetRunnerStats rs = runner.stats();
    std::printf("UNet runner: %s; %lld graph(s) captured, %lld replays, %lld eager steps, %lld failed captures\n",
                rs.mode.c_str(), static_cast<long long>(rs.graphs), static_cast<long long>(rs.replays),
                static_cast<long long>(rs.eager_calls), static_cast<long long>(rs.failed_captures));
    if (model->offload) {
      const ModelOffload::Stats os = model->offload->stats();
      std::printf("offload %s: %.2f GiB host->device and %.2f GiB device->host in whole parts, %.2f GiB streamed by "
                  "layers, over this bench (the end-to-end rows include each image's share)\n",
                  offload_mode_name(model->offload->mode()), os.bytes_to_device / gib, os.bytes_to_host / gib,
                  nn::streamed_weight_bytes() / gib);
    }
    run_speed_rounds(*model, req, bench_limits(), speed_variants(a.deepcache, a.tome), a.runs);
    if (a.concurrent > 0) run_concurrent_bench(*model, req, bench_limits(), a.concurrent);
    return 0;
  } catch (const std::invalid_argument& e) {  // bad --device / --dtype
    std::cerr << "sd-worker bench: " << e.what() << "\n";
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "sd-worker bench: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "sd-worker bench: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace sdw
