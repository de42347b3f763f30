// The loader actor of one device: loads the served model once (on the device thread), refuses one
// whose estimated footprint (weights + activations, memory_estimate.h) exceeds the memory budget,
// narrates its progress, answers every `load` with the same model_info once loaded, validates
// requests against the model (resolve_request) and hands the model to the device's stages.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "actors/interfaces.h"
#include "actors/memory_estimate.h"
#include "actors/model_load_settings.h"
#include "model/pipeline/memory_options.h"
#include "model/pipeline/request.h"

namespace sdw::actors {

struct loader_config {
  std::string model = "demo";  // "demo" or a diffusers folder
  std::string device_name = "cpu";
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  bool fp8 = false;                  // --dtype fp8 (ModelLoadOptions::fp8)
  std::string config_dir, vae_file;  // single-file checkpoints
  bool cuda_graphs = true;                // ModelLoadOptions' speed switches
  std::optional<bool> channels_last;      // unset: on for CUDA (resolve_channels_last)
  std::optional<bool> fuse_qkv;           // unset: SDW_FUSE_QKV, else on for CUDA (nn/fused_qkv.h)
  MemoryOptions memory;                   // ModelLoadOptions::memory
  bool load_t5 = true;                    // SD3 (ModelLoadOptions): T5 or not, jobs' default
  int max_sequence_length = 0;            // T5 token count, and where T5 runs (unset: `device`)
  std::optional<at::Device> t5_device;
  int64_t memory_budget_bytes = 0;  // 0: the device's free memory (MemAvailable on CPU, cudaMemGetInfo on CUDA), unchecked elsewhere
  RequestLimits limits;
  std::chrono::milliseconds load_timeout{10 * 60 * 1000};
  device_thread_actor thread;
  event_sink_actor events;
  std::function<void(const std::string&)> fault_injection;
  // WorkerConfig::resolve_model: a non-path model name -> a local folder (Hub download).
  std::function<std::string(const std::string&, std::function<void(const std::string&)>)> resolve_model;
  std::shared_ptr<SdModel> preloaded;  // a restarted loader keeps the model its device already has
  std::shared_ptr<EmbeddingLibrary> embeddings;  // WorkerConfig::embeddings, given to the loaded model
  // WorkerConfig::controlnets: loaded into the model's ControlNet cache right after it (those that
  // fit it), their weights counted in the estimate checked before loading.
  std::vector<std::string> controlnets;
};

struct loader_state {
  std::shared_ptr<SdModel> model;
  model_info info;
  // What a job's activations may use (the budget less the model's weights and fast-path copies;
  // job_memory.h); < 0: no budget was measured, jobs are not checked.
  int64_t job_budget = -1;
  bool loading = false;
  caf::error failure;  // sticky: a model that failed to load is not retried
  std::vector<caf::typed_response_promise<model_info>> waiting;
  static inline const char* name = "sdw.loader";
};

loader_actor::behavior_type loader(loader_actor::stateful_pointer<loader_state> self, loader_config cfg);

// The served model's settings (serve's WorkerConfig, a node's NodeOptions) into `lc`: the model,
// dtype (fp8 included), single-file configs, speed and memory switches, SD3's T5 (its device
// parsed), embeddings, ControlNets and memory budget. Throws WorkerError (invalid_request) for an
// unknown dtype or T5 device.
void apply_load_settings(const ModelLoadSettings& settings, loader_config& lc);

// "demo" -> the built-in model; a folder with model_index.json -> load_diffusers_model; a
// .safetensors file -> load_single_file_model. Throws WorkerError: model_not_found (no such model,
// or it cannot be loaded), out_of_memory (estimate above `budget` bytes when budget > 0).
// `estimate_out` (optional) gets the estimate that was checked.
// `progress` (optional) gets a line per phase (estimate, loading, done). `extra_weight_bytes`
// (the served ControlNets) is added to the estimate's weights.
std::shared_ptr<SdModel> load_served_model(const std::string& name, const ModelLoadOptions& options, int64_t budget,
                                           MemoryEstimate* estimate_out,
                                           const std::function<void(const std::string&)>& progress = {},
                                           int64_t extra_weight_bytes = 0);

// The short model name written into the PNG parameters ("demo", or the folder's name).
std::string model_label(const std::string& name);

}  // namespace sdw::actors
