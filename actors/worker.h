// The facade the rest of the program (net/, runtime/) uses to drive the actor system: submit,
// subscribe, cancel, status, health, shutdown, and the worker's configuration. Nothing here
// includes CAF; the implementation in actors/ owns the actor system, the device actors and the
// stage actors. The types it shares with net/ are in actors/job_types.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/batch_stats.h"
#include "actors/job_types.h"
#include "actors/model_load_settings.h"
#include "actors/remote_types.h"
#include "model/pipeline/memory_options.h"

namespace sdw {

// The model settings (model, dtype, single-file configs, speed and memory switches, SD3's T5,
// embeddings, ControlNets, memory budget) are ModelLoadSettings', shared with `sd-worker node`.
struct WorkerConfig : ModelLoadSettings {
  std::vector<std::string> model_aliases;  // other names requests may use
  std::vector<std::string> devices{"cpu"};
  // An SDXL refiner served beside the model (serve --refiner): loaded by each device's loader
  // actors like the model; jobs name it in `refiner` for a base + refiner hand-off. "": none.
  std::string refiner;
  size_t queue_capacity = 16;                            // queued jobs beyond running ones
  std::chrono::milliseconds job_deadline{10 * 60 * 1000};  // per job, from submission
  std::chrono::milliseconds result_ttl{10 * 60 * 1000};    // finished jobs kept this long
  size_t max_finished_jobs = 1000;                         // and at most this many
  size_t max_finished_bytes = 256u << 20;                  // and at most this much image data
  std::chrono::milliseconds request_timeout{30 * 1000};    // facade calls into the actors
  int default_preview_every = 0;
  bool full_vae_previews = false;
  RequestLimits limits;
  // Longest a single stage request (one denoising step, a decode, a model load) may take before
  // the job fails with "timeout".
  std::chrono::milliseconds stage_timeout{10 * 60 * 1000};
  // Device threads and writers on threads of their own (detached actors). false: they run on the
  // actor system's scheduler like every other actor, which a test on CAF's deterministic test
  // coordinator needs (everything then runs on the test's thread, in simulated time).
  bool own_threads = true;
  // Test-only: called with the stage name ("loader", "encoder", "denoiser", "decoder", "writer")
  // inside each stage's work (a throw fails that job; "writer" is the PNG/JPEG encoding), and with
  // "<stage>/actor" in the stage actor's message handler (a throw crashes the actor, which its
  // supervisor restarts: the device for its stages, the registry for the writers).
  std::function<void(const std::string& stage)> fault_injection;
  // Turns a model name that is neither "demo" nor an existing path (a Hugging Face repo id, a
  // catalog version) into a local folder, e.g. by downloading it; called by the loader in its
  // blocking loading thread, with `progress` taking lines for the loader's narration. Returns
  // the name unchanged when it does not apply; throws (std::exception) when it fails, which
  // fails the model load (model_not_found, the exception's message). Empty: names are paths.
  std::function<std::string(const std::string& reference, std::function<void(const std::string& line)> progress)>
      resolve_model;
  // serve --stage STAGE=HOST:PORT, --secret FILE, --insecure-plaintext: stages on other nodes
  // (docs/distributed.md), and their links' state for /v1/models and /metrics (made by
  // Worker::start when null).
  RemoteStagesConfig remote;
  std::shared_ptr<RemoteStatus> remote_status;
  // serve --max-batch N: jobs a device runs at once, their denoising steps batched into shared UNet
  // calls when they can be (continuous batching, actors/denoiser.h); 0: 4 on CUDA devices, 1
  // elsewhere (a CPU is busy with one job's batch-2 step already). The batch sizes go to
  // `batch_stats` (/metrics; made by Worker::start when null).
  int max_batch = 0;
  std::shared_ptr<BatchStats> batch_stats;
};

class Worker {
 public:
  virtual ~Worker() = default;
  // Starts the actor system and begins loading the model in the background.
  static std::unique_ptr<Worker> start(const WorkerConfig& config);

  // Validates and queues a job; returns its id ("job-<uuid v4>"). Throws WorkerError.
  virtual std::string submit(JobSubmission job) = 0;
  // Throws WorkerError(not_found).
  virtual std::shared_ptr<EventStream> subscribe(const std::string& job_id) = 0;
  // Throws WorkerError(not_found | already_finished).
  virtual void cancel(const std::string& job_id) = 0;
  virtual JobStatus status(const std::string& job_id) = 0;
  virtual WorkerHealth health() = 0;
  // Blocks until the model is loaded (true) or loading failed / timed out (false). With several
  // devices: until each has loaded the model or failed to (true if any serves).
  virtual bool wait_ready(std::chrono::milliseconds timeout) = 0;
  // Stop accepting jobs, let running ones finish for up to `grace`, cancel the rest (queued ones at
  // once). Returns when no job runs; status and event reads keep working until destruction.
  virtual void shutdown(std::chrono::milliseconds grace) = 0;
  // Lifecycle listener (status changes and narration) for logging/heartbeats. Called on an actor
  // thread: keep it short and do not call back into the Worker from it (the registry waits for
  // it). A listener added late first gets the last 64 events.
  virtual void on_lifecycle(std::function<void(const LifecycleEvent& event)> listener) = 0;
};

}  // namespace sdw
