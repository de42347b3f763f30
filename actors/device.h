// The device actor: one per device in use (cpu, cuda:N, mps). It owns the device's thread
// (device_thread.h), spawns and supervises the loader and the stage actors pinned to that thread
// (monitor + down handler: a crashed stage is restarted and the jobs it held fail), and runs each
// job through encoder -> denoiser -> decoder, each a request with a timeout; up to cfg.max_jobs
// jobs at once (continuous batching: their steps share the denoiser's UNet calls); the `run` reply
// carries the images as pixels (the registry's writer makes the files), so the device is free as
// soon as the VAE decode is done. A {cancel, job} marks the job; the denoiser stops between steps,
// other stages are not started any more.
#pragma once

#include <caf/actor_system.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "actors/interfaces.h"
#include "actors/loader.h"
#include "actors/stage_factory.h"
#include "model/nn/device_names.h"

namespace sdw::actors {

struct device_config {
  std::string name = "cpu";
  at::Device device = at::kCPU;
  loader_config loader;  // model, dtype, memory budget, limits (thread/events are filled in)
  std::chrono::milliseconds stage_timeout{10 * 60 * 1000};
  bool full_vae_previews = false;
  std::function<void(const std::string&)> fault_injection;
  bool own_thread = true;  // WorkerConfig::own_threads
  std::string refiner;     // WorkerConfig::refiner: loaded by a second loader ("" none)
  std::shared_ptr<const RemoteStagesConfig> remote;  // WorkerConfig::remote (null: none)
  std::shared_ptr<RemoteStatus> remote_status;
  // Continuous batching: jobs the device runs at once (their steps share UNet calls, denoiser.h),
  // and where the batch sizes are counted.
  int max_jobs = 1;
  std::shared_ptr<BatchStats> batch_stats;
};

struct device_job {
  std::string id;
  ResolvedRequest request;  // without its images once the denoiser has them
  int32_t preview_every = 0;
  caf::typed_response_promise<job_result> promise;
  stage_kind stage = stage_kind::encoder;
  bool cancelled = false;
  job_result result;
};

// The actors a device supervises (shared with its exit hook, which ends them with the device).
struct device_children {
  device_thread_actor thread;
  loader_actor loader;
  loader_actor refiner_loader;  // serve --refiner only
  stage_set stages;
};

struct device_state {
  device_config cfg;
  stage_env env;
  std::shared_ptr<device_children> kids = std::make_shared<device_children>();
  std::map<std::string, device_job> jobs;  // at most cfg.max_jobs (continuous batching)
  int restarts = 0;
  static inline const char* name = "sdw.device";
};

device_actor::behavior_type device(device_actor::stateful_pointer<device_state> self, device_config cfg,
                                   event_sink_actor events);

// "cpu", "cuda", "cuda:N", "mps" -> a device of this libtorch build; throws WorkerError
// (invalid_request) for unknown or unavailable devices.
at::Device parse_device_name(const std::string& text);
// "fp32", "fp16", "bf16" (and long names); throws WorkerError (invalid_request).
DtypeChoice parse_dtype_name(const std::string& text);

}  // namespace sdw::actors
