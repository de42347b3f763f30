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

#include "runtime/cli_model_load.h"
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
  std::string refiner;  // an SDXL refiner served beside the model (a folder or Hub repo id); "" none
  // Device and precision, after the Rust flags and the install name were applied
  std::vector<std::string> devices{"cpu"};
  std::string dtype = "fp32";
  int cuda_device = 0, metal_device = 0;
  bool use_f16 = false, use_flash_attn = false;
  // How the model is loaded and run, as `sd-worker node` takes it too (cli_model_load.h):
  // --model-config, --vae, --memory-limit-mb, the speed switches, SD3's T5, the memory flags,
  // --embeddings-dir, --controlnet.
  ModelLoadCli load;
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
