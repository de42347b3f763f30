// `sd-worker serve` settings (see serve_options.h).
#include "runtime/serve_options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <torch/version.h>

#include "model/catalog/catalog.h"
#include "runtime/cli_memory.h"
#include "runtime/settings_file.h"

namespace sdw {
namespace {

std::string env_name_for(const std::string& long_name) {
  std::string out = "SD_WORKER_";
  for (char c : long_name) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

BinaryVariant variant_from_program_name(const std::string& argv0) {
  const size_t slash = argv0.find_last_of('/');
  const std::string base = slash == std::string::npos ? argv0 : argv0.substr(slash + 1);
  if (base == "sd-worker-rbee") return BinaryVariant::rbee;
  if (base == "sd-worker-cpu") return BinaryVariant::cpu;
  if (base == "sd-worker-cuda") return BinaryVariant::cuda;
  if (base == "sd-worker-metal") return BinaryVariant::metal;
  return BinaryVariant::plain;
}

const char* to_string(BinaryVariant v) {
  switch (v) {
    case BinaryVariant::rbee: return "sd-worker-rbee";
    case BinaryVariant::cpu: return "sd-worker-cpu";
    case BinaryVariant::cuda: return "sd-worker-cuda";
    case BinaryVariant::metal: return "sd-worker-metal";
    default: return "sd-worker";
  }
}

ServeParse parse_serve_options(int argc, char** argv, BinaryVariant variant, ServeOptions& a) {
  a.variant = variant;
  std::vector<std::string> devices;
  std::string dtype;
  std::string config_file;
  bool print_config = false;
  CLI::App app{"Serve the worker over HTTP (rbee job protocol). Every flag can also come from its environment "
               "variable (shown as Env) or from the JSON --config file; precedence: flags > environment > file > "
               "defaults.",
               variant == BinaryVariant::plain ? "sd-worker serve" : to_string(variant)};
  app.get_formatter()->column_width(34);
  std::set<std::string> flags;

  // Model
  app.add_option("--model,--model-path", a.model,
                 "'demo' (built-in, default), a catalog version (v1-5, v2-1, sd-turbo, ...), a Hugging Face repo id "
                 "(org/name[@revision]), a diffusers folder or a .safetensors checkpoint")
      ->envname("MODEL_PATH");
  app.add_option("--sd-version", a.sd_version, "rbee model version; the model to serve when --model is not given")
      ->envname("SD_VERSION")
      ->check(CLI::IsMember(catalog_versions()));
  app.add_option("--model-alias", a.aliases, "another name jobs may use for the model (repeatable)");
  app.add_option("--refiner", a.refiner,
                 "SDXL: a refiner served beside the model (diffusers folder or Hub repo id); jobs name it in `refiner`");
  // Device and precision
  app.add_option("--device", devices, "cpu | cuda:N | N | mps (repeatable: one stage set per device)");
  app.add_option("--cuda-device", a.cuda_device, "CUDA device index (the device when --device is not given)")
      ->envname("CUDA_DEVICE")
      ->check(CLI::Range(0, 63));
  app.add_option("--metal-device", a.metal_device, "Metal device index (mps; only 0 exists)")
      ->envname("METAL_DEVICE")
      ->check(CLI::Range(0, 0));
  app.add_option("--dtype", dtype, "fp32 | fp16 | bf16 | fp8 (CUDA sm_89+: fp16 with the UNet's Linear layers in fp8) (default fp32, or fp16 with --use-f16)")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16", "fp8"}));
  app.add_flag("--use-f16", a.use_f16, "half precision (same as --dtype fp16)")->envname("USE_F16");
  flags.insert("use-f16");
  app.add_flag("--use-flash-attn", a.use_flash_attn, "flash attention where the libtorch build has it (CUDA, libtorch 2.x)")
      ->envname("USE_FLASH_ATTN");
  flags.insert("use-flash-attn");
  for (const std::string& flag : add_model_load_options(app, a.load)) flags.insert(flag);
  add_stage_options(app, a.stages);
  flags.insert("insecure-plaintext");
  // HTTP
  app.add_option("--host", a.host,
                 "address to bind (default: loopback for `sd-worker serve`, all interfaces when spawned by "
                 "rbee-hive as `<binary> --worker-id ...`; a non-loopback address needs a token)");
  app.add_flag("--local-mode", a.local_mode, "rbee local mode: loopback only, no auth (a token is refused)");
  flags.insert("local-mode");
  app.add_flag("--insecure-no-auth", a.insecure_no_auth, "listen on a non-loopback address without a token, on purpose");
  flags.insert("insecure-no-auth");
  app.add_option("--port", a.port, "port to bind (0: any free port)")->envname("PORT")->check(CLI::Range(0, 65535));
  app.add_option("--queue-size", a.queue_size, "jobs waiting beyond the running ones (then 429)")->check(CLI::Range(1, 100000));
  app.add_option("--max-batch", a.max_batch,
                 "jobs a device runs at once, their denoising steps batched into shared UNet calls "
                 "(continuous batching; 0: 4 on CUDA, 1 elsewhere)")
      ->check(CLI::Range(0, 64));
  app.add_option("--api-token", a.api_token, "bearer token required on every route but /, /health, /ready")
      ->envname("LLORCH_API_TOKEN");
  app.add_option("--lora-dir", a.lora_dirs, "folder of LoRA .safetensors files jobs may name (repeatable)")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--hub-loras", a.hub_loras,
               "let jobs name LoRAs on the Hugging Face Hub (hf://org/name[@revision]/file.safetensors), "
               "downloaded into the Hub cache when first used");
  flags.insert("hub-loras");
  app.add_option("--cors-origin", a.cors_origins, "allowed browser origin (repeatable; '*' for any, without credentials)");
  app.add_option("--max-body-bytes", a.max_body_bytes, "largest request body (413 above)")->check(CLI::Range(1024, 1 << 30));
  app.add_option("--min-side", a.min_side, "smallest width/height accepted")->check(CLI::Range(8, 4096));
  app.add_option("--max-side", a.max_side, "largest width/height accepted")->check(CLI::Range(8, 8192));
  app.add_option("--max-steps", a.max_steps, "most denoising steps accepted")->check(CLI::Range(1, 1000));
  app.add_option("--http-threads", a.http_threads, "connection threads kept ready (more start with the connections)")->check(CLI::Range(2, 4096));
  app.add_option("--max-connections", a.max_connections, "open connections, all clients (503 past it)")->check(CLI::Range(8, 100000));
  app.add_option("--max-connections-per-client", a.max_connections_per_client, "open connections per client address (429 past it)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-streams", a.max_streams, "open SSE event streams (503 past it)")->check(CLI::Range(1, 100000));
  app.add_option("--header-timeout-s", a.header_timeout_s, "time a request's line and headers get to arrive, in all (408)")
      ->check(CLI::Range(1, 3600));
  app.add_option("--request-timeout-s", a.request_timeout_s, "time a request's headers and body get to arrive, in all (408)")
      ->check(CLI::Range(1, 3600));
  app.add_option("--sse-keepalive-ms", a.sse_keepalive_ms, "keep-alive comment interval on idle streams")->check(CLI::Range(50, 600000));
  app.add_option("--preview-every", a.preview_every, "default preview interval in steps (0: none)")->check(CLI::Range(0, 1000));
  app.add_option("--job-timeout-s", a.job_timeout_s, "deadline per job from submission")->check(CLI::Range(1, 86400));
  app.add_option("--result-ttl-s", a.result_ttl_s, "how long finished jobs stay readable")->check(CLI::Range(1, 86400));
  app.add_option("--shutdown-grace-s", a.shutdown_grace_s, "on SIGINT/SIGTERM, time running jobs get to finish")->check(CLI::Range(0, 3600));
  // Web UI
  app.add_flag("--no-ui", a.no_ui, "do not serve the web UI at /ui/");
  flags.insert("no-ui");
  app.add_option("--ui-dir", a.ui_dir, "the built web UI's folder (default: share/sd-worker/ui of the install, else the source tree's ui/dist)");
  // rbee
  app.add_option("--worker-id", a.worker_id, "id reported in /info and heartbeats (rbee: worker-<type>-<port>)")->envname("WORKER_ID");
  app.add_option("--queen-url", a.queen_url, "rbee queen: POST {url}/v1/worker-heartbeat every interval and on each status change")
      ->envname("QUEEN_URL");
  app.add_option("--callback-url", a.callback_url, "rbee hive registration: POST WorkerInfo here once the model is ready")
      ->envname("CALLBACK_URL");
  app.add_option("--heartbeat-interval", a.heartbeat_interval_s, "seconds between heartbeats to the queen (default 30)")
      ->envname("HEARTBEAT_INTERVAL_SECS")
      ->check(CLI::Range(0.05, 3600.0));
  // Process
  app.add_flag("--quiet", a.quiet, "no request log");
  flags.insert("quiet");
  app.add_option("--config", config_file, "JSON settings file (keys are the flag names; comments allowed)")
      ->envname("SD_WORKER_CONFIG");
  app.add_flag("--print-config", print_config, "print the effective settings as JSON and exit");

  // Every other option gets SD_WORKER_<FLAG>.
  for (CLI::Option* opt : app.get_options()) {
    if (!opt->get_envname().empty() || opt->get_lnames().empty()) continue;
    const std::string& n = opt->get_lnames().front();
    if (n == "help" || n == "print-config") continue;
    opt->envname(env_name_for(n));
  }

  std::vector<std::string> args(argv, argv + argc);
  try {
    const std::string path = find_config_path(argc, argv, "SD_WORKER_CONFIG");
    if (!path.empty()) {
      for (auto& extra : config_arguments(path, app, flags, argc, argv)) args.push_back(std::move(extra));
      a.config_file = path;
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << app.get_name() << ": " << e.what() << "\n";
    return {false, 2};
  }
  std::vector<char*> ptrs;
  for (auto& s : args) ptrs.push_back(s.data());
  try {
    app.parse(static_cast<int>(ptrs.size()), ptrs.data());
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help (0) or the error
    return {false, rc == 0 ? 0 : 2};
  }
  auto fail = [&](const std::string& what) {
    std::cerr << app.get_name() << ": " << what << "\n";
    return ServeParse{false, 2};
  };
  if (a.min_side > a.max_side) return fail("--min-side must not exceed --max-side");

  // Network or local mode (rbee): the address, and no network listener without auth.
  const bool spawned_by_hive = argc > 0 && std::string(argv[0]) != "serve";  // main.cpp passes "serve" first otherwise
  if (app.count("--host") == 0) a.host = spawned_by_hive && !a.local_mode ? "0.0.0.0" : "127.0.0.1";

  // --model, else --sd-version, else the demo model.
  if (app.count("--model") == 0 && !a.sd_version.empty()) a.model = a.sd_version;

  // Device: --device, else --cuda-device / --metal-device when given, else the install name's.
  const bool cuda_given = app.count("--cuda-device") > 0, metal_given = app.count("--metal-device") > 0;
  if (!devices.empty()) {
    a.devices = devices;
  } else if (cuda_given && metal_given) {
    return fail("--cuda-device and --metal-device name two different backends; give one (or --device)");
  } else if (cuda_given || variant == BinaryVariant::cuda) {
    a.devices = {"cuda:" + std::to_string(a.cuda_device)};
  } else if (metal_given || variant == BinaryVariant::metal) {
    a.devices = {"mps"};
  } else {
    a.devices = {"cpu"};
  }

  // Precision: --dtype, else fp16 with --use-f16, else fp32.
  if (!dtype.empty()) {
    if (a.use_f16 && dtype != "fp16") return fail("--use-f16 contradicts --dtype " + dtype);
    a.dtype = dtype;
  } else {
    a.dtype = a.use_f16 ? "fp16" : "fp32";
  }
  try {
    check_model_load_options(a.load);
  } catch (const std::invalid_argument& e) {
    return fail(e.what());
  }
  if (a.use_flash_attn) {
#if defined(TORCH_VERSION_MAJOR) && TORCH_VERSION_MAJOR >= 2
    a.notes.push_back("flash attention: used by scaled_dot_product_attention where the device supports it");
#else
    a.notes.push_back("--use-flash-attn: this libtorch (1.x) has no flash attention kernels; attention uses the "
                      "math path");
#endif
  }

  if (print_config) {
    std::cout << to_json(a).dump(2) << std::endl;
    return {false, 0};
  }
  // After --print-config, which shows the effective address either way: no network listener
  // without auth, no token in local mode.
  if (a.local_mode && !a.api_token.empty())
    return fail("--local-mode serves loopback without auth; remove the token (LLORCH_API_TOKEN / --api-token) or "
                "drop --local-mode");
  if (!is_loopback_host(a.host) && a.api_token.empty() && !a.insecure_no_auth)
    return fail("listening on " + a.host + " (reachable from the network) needs a bearer token: set LLORCH_API_TOKEN "
                "(or --api-token); --local-mode serves loopback without one; --insecure-no-auth serves the network "
                "without auth on purpose");
  return {true, 0};
}

nlohmann::json to_json(const ServeOptions& a) {
  return {
      {"model", a.model},
      {"sd_version", a.sd_version},
      {"model_alias", a.aliases},
      {"model_config", a.load.model_config_dir},
      {"vae", a.load.vae_file},
      {"device", a.devices},
      {"dtype", a.dtype},
      {"cuda_device", a.cuda_device},
      {"metal_device", a.metal_device},
      {"use_f16", a.use_f16},
      {"use_flash_attn", a.use_flash_attn},
      {"no_cuda_graphs", a.load.no_cuda_graphs},
      {"channels_last", a.load.channels_last ? nlohmann::json(true) : a.load.no_channels_last ? nlohmann::json(false) : nlohmann::json("auto")},
      {"fuse_qkv", a.load.fuse_qkv},
      {"memory_limit_mb", a.load.memory_limit_mb},
      {"host", a.host},
      {"local_mode", a.local_mode},
      {"insecure_no_auth", a.insecure_no_auth},
      {"refiner", a.refiner},
      {"no_t5", a.load.no_t5},
      {"max_sequence_length", a.load.max_sequence_length},
      {"t5_device", a.load.t5_device},
      {"port", a.port},
      {"queue_size", a.queue_size},
      {"max_batch", a.max_batch},
      {"api_token", a.api_token.empty() ? "" : "***"},
      {"cors_origin", a.cors_origins},
      {"lora_dir", a.lora_dirs},
      {"embeddings_dir", a.load.embedding_dirs},
      {"controlnet", a.load.controlnets},
      {"hub_loras", a.hub_loras},
      {"max_body_bytes", a.max_body_bytes},
      {"min_side", a.min_side},
      {"max_side", a.max_side},
      {"max_steps", a.max_steps},
      {"http_threads", a.http_threads},
      {"max_connections", a.max_connections},
      {"max_connections_per_client", a.max_connections_per_client},
      {"max_streams", a.max_streams},
      {"header_timeout_s", a.header_timeout_s},
      {"request_timeout_s", a.request_timeout_s},
      {"sse_keepalive_ms", a.sse_keepalive_ms},
      {"preview_every", a.preview_every},
      {"job_timeout_s", a.job_timeout_s},
      {"result_ttl_s", a.result_ttl_s},
      {"shutdown_grace_s", a.shutdown_grace_s},
      {"no_ui", a.no_ui},
      {"ui_dir", a.ui_dir},
      {"worker_id", a.worker_id},
      {"queen_url", a.queen_url},
      {"callback_url", a.callback_url},
      {"heartbeat_interval", a.heartbeat_interval_s},
      {"quiet", a.quiet},
      {"config", a.config_file},
      {"binary", to_string(a.variant)},
  };
}

}  // namespace sdw
