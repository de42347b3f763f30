// `sd-worker generate` (see cli_generate.h): parses flags with CLI11, loads the model, runs the
// pipeline, writes PNG (with the A1111 parameters chunk) or JPEG files and prints seed and timings.
// LoRAs: `--lora FILE_OR_NAME[:STRENGTH]` (a path is taken as given, a name is looked up in the
// `--lora-dir` folders) and A1111's `<lora:name:strength>` in the prompt (names in the folders).
#include "runtime/cli_generate.h"

#include <ATen/Parallel.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "model/catalog/asset_folders.h"
#include "model/image/image_io.h"
#include "model/image/output_format.h"
#include "model/lora/lora_file.h"
#include "model/nn/fused_qkv.h"
#include "model/lora/prompt_loras.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/refiner.h"
#include "model/schedulers/scheduler.h"
#include "runtime/cli_controlnet.h"
#include "runtime/cli_hires.h"
#include "runtime/cli_memory.h"
#include "runtime/cli_stages.h"
#ifdef SDW_HAVE_SERVE
#include "runtime/generate_remote.h"
#endif
#include "runtime/cpu_threads.h"
#include "net/hub/hub_error.h"
#include "net/hub/hub_reference.h"
#include "runtime/hub_asset.h"
#include "runtime/hub_model.h"
#include "runtime/model_source.h"

namespace fs = std::filesystem;

namespace sdw {
namespace {

struct GenerateArgs {
  std::string model = "demo";
  std::string config_dir;  // single files: diffusers folder whose configs apply
  std::string vae_file;    // single files: VAE replacing the checkpoint's
  std::string refiner;     // SDXL refiner model (diffusers folder); "" = none
  double refiner_start = 0.8;
  std::string prompt;
  std::string negative_prompt;
  std::string prompt_syntax = "diffusers";
  bool has_negative = false;
  int width = 0, height = 0, steps = 0;
  double guidance = -1;
  uint64_t seed = 0;
  bool has_seed = false;
  std::string scheduler;
  int clip_skip = 1;
  int max_sequence_length = 0;  // SD3: T5's token count (0: 256)
  bool no_t5 = false;           // SD3: load without text_encoder_3
  std::string init_image, mask_image;
  double strength = -1;  // < 0: the model's default
  std::string t5_device;        // SD3: where T5 runs ("": --device)
  int num_images = 1;
  std::string device = "cpu";
  std::string dtype = "fp32";
  bool no_cuda_graphs = false, channels_last = false, no_channels_last = false;
  std::string fuse_qkv = "auto";  // on | off | auto (nn/fused_qkv.h)
  std::string output = "output.png";
  int jpeg_quality = 90;
  std::vector<std::string> loras;      // FILE_OR_NAME[:STRENGTH], in order
  std::vector<std::string> lora_dirs;  // where names (and prompt tags) are looked up
  std::vector<std::string> embedding_dirs;  // textual-inversion embeddings prompts may name
  ControlNetArgs controlnet;                // --controlnet DIR --control-image PNG ...
  HiresArgs hires;                          // --hires-scale 2 --hires-strength 0.5 ...
  MemoryOptions memory;                     // --vae-tiling, --attention-slicing ...
  StageCliOptions stages;                   // --stage: stages on `sd-worker node`s (generate_remote.h)
};

// "FILE_OR_NAME[:STRENGTH]": a last ':' followed by a number splits off the strength.
std::pair<std::string, double> split_lora_arg(const std::string& arg) {
  const size_t colon = arg.rfind(':');
  if (colon != std::string::npos && colon > 0) {
    const std::string number = arg.substr(colon + 1);
    char* end = nullptr;
    const double v = std::strtod(number.c_str(), &end);
    if (!number.empty() && end == number.c_str() + number.size() && std::isfinite(v)) return {arg.substr(0, colon), v};
  }
  return {arg, 1.0};
}

// A --lora argument: an existing file as given, an hf://org/name/file reference (downloaded into
// the Hub cache), else a name in the --lora-dir folders.
LoraUse cli_lora(const std::string& arg, const AssetFolders& folders) {
  const auto [name, strength] = split_lora_arg(arg);
  if (fs::is_regular_file(name)) return LoraUse{name, strength};
  if (net::has_hub_file_prefix(name)) {
    try {
      const net::HubProgress bar = isatty(STDERR_FILENO) ? terminal_download_bar() : net::HubProgress{};
      auto note = [](const std::string& line) { std::cerr << "sd-worker: " << line << "\n"; };
      return LoraUse{resolve_hub_file(name, kMaxHubLoraBytes, bar, note), strength};
    } catch (const net::HubError& e) {
      throw RequestError(std::string("--lora: ") + e.what());
    }
  }
  if (folders.empty()) throw RequestError("--lora '" + name + "': no such file (and no --lora-dir to look in)");
  try {
    return LoraUse{folders.resolve(name).path.string(), strength};
  } catch (const AssetError& e) {
    throw RequestError(std::string("--lora: ") + e.what());
  }
}

// `<lora:name:w>` tags out of the prompt; their names are looked up in the --lora-dir folders.
std::vector<LoraUse> prompt_loras(std::string& prompt, const AssetFolders& folders) {
  PromptLoras p;
  try {
    p = extract_prompt_loras(prompt);
  } catch (const LoraError& e) {
    throw RequestError(std::string("prompt: ") + e.what());
  }
  std::vector<LoraUse> out;
  for (const PromptLora& l : p.loras) {
    if (folders.empty())
      throw RequestError("the prompt names LoRA '" + l.name + "' (<lora:...>); give --lora-dir to say where LoRAs are");
    try {
      out.push_back(LoraUse{folders.resolve(l.name).path.string(), l.strength});
    } catch (const AssetError& e) {
      throw RequestError(std::string("prompt: ") + e.what());
    }
  }
  prompt = p.prompt;
  return out;
}

std::string output_path(const std::string& base, int index, int count) {
  if (count == 1) return base;
  fs::path p(base);
  return (p.parent_path() / (p.stem().string() + "-" + std::to_string(index) + p.extension().string())).string();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write '" + path + "'");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("write failed for '" + path + "'");
}

void progress_bar(int step, int total) {
  const int width = 30;
  const int filled = total > 0 ? step * width / total : width;
  std::fprintf(stderr, "\r[%s%s] %d/%d", std::string(filled, '#').c_str(), std::string(width - filled, ' ').c_str(), step, total);
  if (step == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace

int run_generate(int argc, char** argv) {
  GenerateArgs a;
  CLI::App app{"Generate images with a Stable Diffusion model (no server).", "sd-worker generate"};
  app.add_option("--model", a.model, "'demo' (built-in, default), a diffusers folder or a single-file .safetensors checkpoint");
  app.add_option("--config", a.config_dir, "single files: a diffusers folder whose configs and tokenizer to use")
      ->check(CLI::ExistingDirectory);
  app.add_option("--vae", a.vae_file, "single files: a VAE .safetensors (diffusers or LDM names) replacing the checkpoint's")
      ->check(CLI::ExistingFile);
  app.add_option("--refiner", a.refiner, "SDXL: a refiner model that finishes the base's schedule from --refiner-start");
  app.add_option("--refiner-start", a.refiner_start, "fraction of the schedule the base runs before the refiner (default 0.8)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--prompt", a.prompt, "what to draw")->required();
  app.add_option("--negative-prompt", a.negative_prompt, "what to avoid")->each([&](const std::string&) { a.has_negative = true; });
  app.add_option("--prompt-syntax", a.prompt_syntax,
                 "diffusers (default) | a1111: AUTOMATIC1111's (word:1.2) weights, BREAK and 75-token chunks, as its API")
      ->check(CLI::IsMember({"diffusers", "a1111"}));
  app.add_option("--width", a.width, "multiple of 8 (default: the model's)")->check(CLI::Range(8, 4096));
  app.add_option("--height", a.height, "multiple of 8 (default: the model's)")->check(CLI::Range(8, 4096));
  app.add_option("--steps", a.steps, "denoising steps (default: the model's)")->check(CLI::Range(1, 1000));
  app.add_option("--guidance", a.guidance, "classifier-free guidance scale; <= 1 disables it")->check(CLI::Range(0.0, 100.0));
  app.add_option("--seed", a.seed, "random seed (default: random, printed)")->each([&](const std::string&) { a.has_seed = true; });
  app.add_option("--scheduler", a.scheduler, "sampler name (" + [] {
    std::string s;
    for (const auto& n : scheduler_names()) s += (s.empty() ? "" : ", ") + n;
    return s;
  }() + ")");
  app.add_option("--clip-skip", a.clip_skip, "A1111 numbering: 1 = last layer")->check(CLI::Range(1, 48));
  app.add_option("--max-sequence-length", a.max_sequence_length, "SD3: T5's token count (default 256)")
      ->check(CLI::Range(1, 512));
  app.add_flag("--no-t5", a.no_t5, "SD3: load without the T5 encoder (text_encoder_3); its prompt part is zeros");
  app.add_option("--init-image", a.init_image, "image for img2img / inpainting")->check(CLI::ExistingFile);
  app.add_option("--strength", a.strength, "img2img/inpaint strength in (0, 1] (default: SD 0.8; SDXL 0.3 img2img, 0.9999 inpaint)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--mask-image", a.mask_image, "inpainting mask (white = repaint)")->check(CLI::ExistingFile);
  app.add_option("--num-images", a.num_images, "images per prompt")->check(CLI::Range(1, 16));
  app.add_option("--device", a.device, "cpu | cuda:N | mps");
  app.add_option("--t5-device", a.t5_device,
                 "SD3: run the T5 encoder on this device (cpu | cuda:N | mps; default: --device), e.g. the CPU while "
                 "the transformer runs on a GPU (fp16 becomes bf16 for T5 on the CPU)");
  app.add_option("--dtype", a.dtype, "fp32 | fp16 | bf16 (bf16 on a CPU: bf16 products, fp32 activations) | fp8 (CUDA sm_89+: fp16 with the UNet's Linear layers in fp8)");
  app.add_flag("--no-cuda-graphs", a.no_cuda_graphs, "run the UNet step eagerly on CUDA");
  app.add_flag("--channels-last", a.channels_last, "UNet convolutions in channels_last (NHWC) (default: on for CUDA)")
      ->excludes(app.add_flag("--no-channels-last", a.no_channels_last, "UNet convolutions in NCHW also on CUDA"));
  app.add_option("--fuse-qkv", a.fuse_qkv, "self-attention q/k/v from one fused product: on, off, auto (default: "
                 "SDW_FUSE_QKV, else on for CUDA)")->check(CLI::IsMember({"on", "off", "auto"}));
  app.add_option("--output", a.output, "output file (.png or .jpg); several images: out-0.png, out-1.png, ...");
  app.add_option("--jpeg-quality", a.jpeg_quality, "JPEG quality")->check(CLI::Range(1, 100));
  app.add_option("--lora", a.loras,
                 "a LoRA .safetensors file, or a name in a --lora-dir, with an optional strength "
                 "(FILE_OR_NAME[:STRENGTH], default 1, may be negative); repeatable, applied in order")
      ->allow_extra_args(false);
  app.add_option("--lora-dir", a.lora_dirs, "a folder of LoRAs for --lora names and <lora:name:w> in the prompt; repeatable")
      ->allow_extra_args(false)
      ->check(CLI::ExistingDirectory);
  app.add_option("--embeddings-dir", a.embedding_dirs,
                 "a folder of textual-inversion .safetensors embeddings; a prompt uses one by its file name; repeatable")
      ->allow_extra_args(false)
      ->check(CLI::ExistingDirectory);
  add_controlnet_options(app, a.controlnet);
  add_hires_options(app, a.hires);
  add_memory_options(app, a.memory);
#ifdef SDW_HAVE_SERVE
  add_stage_options(app, a.stages);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!a.mask_image.empty() && a.init_image.empty()) {
    std::cerr << "sd-worker generate: --mask-image needs --init-image\n";
    return 2;
  }
  const std::string ext = fs::path(a.output).extension().string();
  const bool jpeg = ext == ".jpg" || ext == ".jpeg";
  if (!jpeg && ext != ".png") {
    std::cerr << "sd-worker generate: --output must end in .png, .jpg or .jpeg\n";
    return 2;
  }

  GenerationRequest req;
  req.prompt = a.prompt;
  if (a.has_negative) req.negative_prompt = a.negative_prompt;
  if (a.prompt_syntax == "a1111") req.prompt_syntax = PromptSyntax::a1111;
  req.width = a.width;
  req.height = a.height;
  req.steps = a.steps;
  if (a.guidance >= 0) req.guidance = a.guidance;
  if (a.has_seed) req.seed = a.seed;
  req.scheduler = a.scheduler;
  req.clip_skip = a.clip_skip;
  req.max_sequence_length = a.max_sequence_length;
  if (a.strength >= 0) req.strength = a.strength;
  req.num_images = a.num_images;
  try {
    if (!a.init_image.empty()) {
      req.init_image = load_image(a.init_image);
      req.mode = GenerationMode::img2img;
    }
    if (!a.mask_image.empty()) {
      req.mask_image = load_image(a.mask_image);
      req.mode = GenerationMode::inpaint;
    }
    req.hires = hires_from_args(a.hires);
    if (req.hires && !a.refiner.empty()) throw RequestError("--hires-* and --refiner cannot be combined");
    const AssetFolders lora_folders(std::vector<fs::path>(a.lora_dirs.begin(), a.lora_dirs.end()), {".safetensors"}, "LoRA");
    for (const std::string& l : a.loras) req.loras.push_back(cli_lora(l, lora_folders));
    for (LoraUse& l : prompt_loras(req.prompt, lora_folders)) req.loras.push_back(std::move(l));
    apply_controlnet_args(a.controlnet, req);
    configure_cpu_threads(a.model == "demo");
    check_memory_options(a.memory);  // (both paths below)
    check_offload_device(a.memory, parse_device(a.device));
#ifdef SDW_HAVE_SERVE
    if (!a.stages.stages.empty()) {  // through the actors, the mapped stages on nodes
      // (A node serves no refiner, and its own model's loading settings.)
      if (!a.refiner.empty()) throw RequestError("--stage and --refiner cannot be combined");
      RemoteGenerate g{a.device, {}, req, a.stages, a.output, jpeg, a.jpeg_quality};
      g.load.model = a.model;
      g.load.dtype = a.dtype;
      g.load.model_config_dir = a.config_dir;
      g.load.vae_file = a.vae_file;
      g.load.memory = a.memory;
      g.load.cuda_graphs = !a.no_cuda_graphs;
      if (a.channels_last || a.no_channels_last) g.load.channels_last = a.channels_last;
      g.load.fuse_qkv = nn::parse_fuse_qkv(a.fuse_qkv);
      g.load.load_t5 = !a.no_t5;
      g.load.t5_device = a.t5_device;
      if (!a.embedding_dirs.empty())
        g.load.embeddings = std::make_shared<EmbeddingLibrary>(std::vector<fs::path>(a.embedding_dirs.begin(), a.embedding_dirs.end()));
      return generate_on_nodes(g);
    }
#endif
    ModelLoadOptions lo;
    lo.device = parse_device(a.device);
    apply_dtype_choice(a.dtype, lo);
    lo.config_dir = a.config_dir;
    lo.vae_file = a.vae_file;
    lo.cuda_graphs = !a.no_cuda_graphs;
    lo.load_t5 = !a.no_t5;
    if (!a.t5_device.empty()) lo.t5_device = parse_device(a.t5_device);
    if (a.channels_last || a.no_channels_last) lo.channels_last = a.channels_last;
    lo.fuse_qkv = nn::parse_fuse_qkv(a.fuse_qkv);
    lo.memory = a.memory;
    const auto t_load = std::chrono::steady_clock::now();
    auto model = load_model(a.model, lo);
    if (!a.embedding_dirs.empty())
      model->embeddings = std::make_shared<EmbeddingLibrary>(std::vector<fs::path>(a.embedding_dirs.begin(), a.embedding_dirs.end()));
    const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();

    GenerateHooks hooks;
    if (isatty(STDERR_FILENO)) hooks.on_step = [](int step, int total, const at::Tensor&) { progress_bar(step, total); };
    std::shared_ptr<SdModel> refiner;
    if (!a.refiner.empty()) refiner = load_model(a.refiner, lo);
    GenerationResult result = refiner ? generate_with_refiner(*model, *refiner, req, a.refiner_start, hooks)
                                      : generate(*model, req, hooks);

    GenerationRequest shown = req;  // the infotext keeps the prompt as typed, <lora:...> tags included (A1111)
    shown.prompt = a.prompt;
    const std::string params = result.parameters_text(model->name == "demo" ? "demo" : fs::path(model->name).filename().string(), shown);
    const OutputFormat format{jpeg ? "jpeg" : "png", a.jpeg_quality};
    for (size_t i = 0; i < result.images.size(); ++i) {
      const std::string path = output_path(a.output, static_cast<int>(i), static_cast<int>(result.images.size()));
      write_file(path, format.encode(result.images[i], params).bytes);
      std::cout << "wrote " << path << " (" << result.width << "x" << result.height << ")\n";
    }
    const auto& t = result.timings;
    std::cout << "seed: " << result.seed << "\n"
              << "sampler: " << result.sampler_name << " (" << result.scheduler << "), " << result.steps << " steps, "
              << result.unet_calls << " UNet calls, guidance " << result.guidance << "\n"
              << "timings: load " << static_cast<int64_t>(load_ms) << " ms, encode " << t.encode_ms << " ms, denoise "
              << t.denoise_ms << " ms (" << (result.unet_calls ? t.denoise_ms / result.unet_calls : 0) << " ms/step), decode "
              << t.decode_ms << " ms, total " << t.total_ms << " ms\n"
              << "device: " << model->device.str() << ", " << dtype_name(model->dtype);
    if (model->device.is_cpu()) std::cout << ", " << at::get_num_threads() << " CPU threads";
    std::cout << "\n";
    if (!req.loras.empty()) {
      std::cout << "loras:";
      for (const LoraUse& l : req.loras) std::cout << " " << l.path << " x" << l.strength;
      std::cout << "\n";
    }
    return 0;
  } catch (const RequestError& e) {
    std::cerr << "sd-worker generate: invalid request: " << e.what() << "\n";
    return 2;
  } catch (const ModelSourceError& e) {
    std::cerr << "sd-worker generate: " << e.what() << "\n";
    return 2;
  } catch (const std::invalid_argument& e) {  // bad --device / --dtype
    std::cerr << "sd-worker generate: " << e.what() << "\n";
    return 2;
  } catch (const ImageError& e) {
    std::cerr << "sd-worker generate: bad image: " << e.what() << "\n";
    return 2;
  } catch (const c10::Error& e) {  // libtorch's: its message without the C++ backtrace
    std::cerr << "sd-worker generate: error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "sd-worker generate: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace sdw
