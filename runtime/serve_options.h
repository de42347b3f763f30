// `sd-worker serve` settings: every flag, the environment variable of each (rbee's names where
// rbee has one: WORKER_ID, PORT, QUEEN_URL, CALLBACK_URL, MODEL_PATH, SD_VERSION, CUDA_DEVICE,
// METAL_DEVICE, USE_F16, USE_FLASH_ATTN, HEARTBEAT_INTERVAL_SECS, LLORCH_API_TOKEN; otherwise
// SD_WORKER_<FLAG>), a JSON config file (`--config FILE`, comments allowed), and the precedence
// flags > environment > file > defaults. Both rbee spawn forms are accepted: the hive's
// (`--worker-id --model --device --port --queen-url`) and the Rust SD worker's (`--sd-version
// --model-path --callback-url --cuda-device --metal-device --use-f16 --use-flash-attn`). The
// install name (sd-worker-cpu|cuda|metal|rbee) picks the default device.
// rbee's network and local modes: see ServeOptions::host.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/pipeline/memory_options.h"
#include "runtime/cli_stages.h"

namespace sdw {

enum class BinaryVariant { plain, rbee, cpu, cuda, metal };

// From argv[0]'s file name: "sd-worker-cuda" -> cuda, "sd-worker" -> plain, ...
BinaryVariant variant_from_program_name(const std::string& argv0);
// 127.x.x.x, localhost, ::1.
bool is_loopback_host(const std::string& host);
const char* to_string(BinaryVariant v);

struct ServeOptions {
  // Model
  std::string model = "demo";  // "demo", a catalog version, a Hub repo id, a folder or a .safetensors file
  std::string sd_version;      // rbee's --sd-version (catalog name); the model when --model is not given
  std::vector<std::string> aliases;
  std::string model_config_dir, vae_file;  // single-file checkpoints only
  std::string refiner;  // an SDXL refiner served beside the model (a folder or Hub repo id); "" none
  // Device and precision, after the Rust flags and the install name were applied
  std::vector<std::string> devices{"cpu"};
  std::string dtype = "fp32";
  int cuda_device = 0, metal_device = 0;
  bool use_f16 = false, use_flash_attn = false;
  // Speed switches (SdModel). channels_last: neither flag means on for CUDA, off elsewhere.
  bool no_cuda_graphs = false, channels_last = false, no_channels_last = false;
  int64_t memory_limit_mb = 0;  // memory the model may plan with (0: MemAvailable on CPU)
  // SD3: load no T5, jobs' default T5 token count (0: 256), the device T5 runs on ("": --device)
  bool no_t5 = false;
  int max_sequence_length = 0;
  MemoryOptions memory;  // --vae-tiling, --vae-tile-size, --vae-tile-overlap, --attention-slicing (cli_memory.h)
  std::string t5_device;
  StageCliOptions stages;  // --stage, --secret, --insecure-plaintext, node heartbeats (cli_stages.h)
  // HTTP
  // Where to listen: --host, else loopback for `sd-worker serve` and --local-mode, all interfaces
  // (0.0.0.0) when rbee-hive spawns the worker (`<binary> --worker-id ...`, no `serve` word), as
  // rbee's own workers do in network mode. A non-loopback address needs a token unless
  // --insecure-no-auth says otherwise; --local-mode refuses a token.
  std::string host = "127.0.0.1";
  bool local_mode = false, insecure_no_auth = false;
  int port = 8080;
  size_t queue_size = 16;
  int max_batch = 0;  // --max-batch: WorkerConfig::max_batch
  std::string api_token;
  std::vector<std::string> cors_origins;
  std::vector<std::string> lora_dirs;
  std::vector<std::string> embedding_dirs;
  std::vector<std::string> controlnets;  // ControlNet folders jobs may name (by folder name)
  bool hub_loras = false;  // jobs may name hf://org/name/file.safetensors LoRAs (downloaded)
  size_t max_body_bytes = 32u << 20;
  int min_side = 256, max_side = 2048, max_steps = 150;
  int http_threads = 64;
  int max_connections = 1024, max_connections_per_client = 256, max_streams = 512;
  int header_timeout_s = 10, request_timeout_s = 30;
  int sse_keepalive_ms = 5000;
  int preview_every = 0;
  int job_timeout_s = 600, result_ttl_s = 600, shutdown_grace_s = 30;
  // Web UI (GET /ui/): the built app's folder ("" = found next to the binary, ui_location.h)
  bool no_ui = false;
  std::string ui_dir;
  // rbee
  std::string worker_id, queen_url, callback_url;
  double heartbeat_interval_s = 30;
  // Process
  bool quiet = false;
  std::string config_file;  // the file that was read ("" none)
  BinaryVariant variant = BinaryVariant::plain;
  std::vector<std::string> notes;  // things worth a log line at start (e.g. flash attention unavailable)
};

struct ServeParse {
  bool run = false;   // false: exit with `exit_code` (help, --print-config, or an error already printed)
  int exit_code = 0;
};

// argv[0] is the program or sub-command name. Prints help/errors itself.
ServeParse parse_serve_options(int argc, char** argv, BinaryVariant variant, ServeOptions& out);

// The effective settings (what --print-config prints); the API token is masked.
nlohmann::json to_json(const ServeOptions& options);

}  // namespace sdw
