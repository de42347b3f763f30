// The facade the rest of the program (net/, runtime/) uses to drive the actor system: submit,
// subscribe, cancel, status, health, shutdown. Nothing here includes CAF; the implementation in
// actors/ owns the actor system, the device actors and the stage actors.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/pipeline/request.h"

namespace sdw {

// Typed failures a caller can map to protocol errors (HTTP status, exit code).
enum class WorkerErrc : uint8_t {
  invalid_request = 1,  // 400
  model_not_found,      // 400 (names what is served)
  out_of_memory,        // 503 / job failed
  queue_full,           // 429
  cancelled,
  timeout,              // job deadline or request timeout
  not_found,            // 404 unknown job id
  already_finished,     // 409 cancel of a finished job
  shutting_down,        // 503
  not_ready,            // 503 model still loading
  internal,             // 500
};
const char* to_string(WorkerErrc code);

class WorkerError : public std::runtime_error {
 public:
  WorkerError(WorkerErrc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  WorkerErrc code() const { return code_; }

 private:
  WorkerErrc code_;
};

enum class JobState : uint8_t { queued, running, completed, failed, cancelled };
const char* to_string(JobState state);
inline bool is_terminal(JobState s) {
  return s == JobState::completed || s == JobState::failed || s == JobState::cancelled;
}

struct EncodedImage {
  std::string bytes;   // PNG or JPEG file bytes
  std::string format;  // "png" | "jpeg"
  int width = 0, height = 0;
};

// One event in a job's history; every subscriber sees all of them, in order.
struct JobEvent {
  enum class Type : uint8_t { queued, started, progress, preview, narration, complete, error, cancelled };
  Type type = Type::queued;
  std::string job_id;
  int step = 0, total = 0;
  std::vector<EncodedImage> images;  // preview (one) or complete (num_images)
  uint64_t seed = 0;
  std::string message;               // error / cancel reason / narration text
  std::string error_code;            // error / cancelled: to_string(WorkerErrc), e.g. "timeout"
  double elapsed_ms = 0;             // complete: job wall time; progress: time since start
  // complete: per-stage timings and generation facts. decode_ms: VAE decode + pixel conversion
  // (on the device); image_encode_ms: PNG/JPEG encoding (the registry's writer, off the device).
  std::string scheduler;
  double encode_ms = 0, denoise_ms = 0, decode_ms = 0, image_encode_ms = 0;
  // narration fields (rbee): actor, action, target, human (= message), correlation_id
  std::string actor, action, target;
  std::string correlation_id;        // the submitter's X-Correlation-Id (every event of the job)
  int64_t emitted_at_ms = 0;
  bool terminal() const { return type == Type::complete || type == Type::error || type == Type::cancelled; }
};
const char* to_string(JobEvent::Type type);

struct JobSubmission {
  GenerationRequest request;
  std::string output_format = "png";  // "png" | "jpeg"
  int jpeg_quality = 90;
  int preview_every = 0;              // 0: no previews
  std::optional<std::chrono::milliseconds> deadline;  // default: the worker's
  bool cancel_on_disconnect = false;
  std::string model;                  // "": the served model; otherwise it or an alias (model_not_found)
  std::string correlation_id;         // carried into the job's narration (rbee's correlation_id)
};

struct JobStatus {
  std::string job_id;
  JobState state = JobState::queued;
  int step = 0, total = 0;
  int queue_position = 0;  // 1-based while queued, 0 otherwise
  std::string error;       // failed / cancelled reason
  std::string error_code;  // failed / cancelled: to_string(WorkerErrc), e.g. "timeout"
  std::optional<JobEvent> result;  // the complete event once completed
};

// A subscription: pull events with a timeout. History first, then live; ends after the
// terminal event (next() then returns false immediately).
class EventStream {
 public:
  virtual ~EventStream() = default;
  // Waits up to `timeout`; true with an event, false on timeout or end (check finished()).
  virtual bool next(JobEvent& out, std::chrono::milliseconds timeout) = 0;
  virtual bool finished() const = 0;
  // The reader went away (e.g. HTTP client disconnected); lets the job cancel if it asked to.
  virtual void detach() = 0;
};

// One device's share of the served model (GET /v1/models).
struct DeviceModelState {
  std::string device;
  std::string state;            // loading | ready | failed
  std::string error;            // why it failed
  std::string job;              // the job it runs ("" idle)
  int64_t weight_bytes = 0;     // parameters and buffers as loaded
  int64_t estimate_bytes = 0;   // weights + activations, as checked before loading
  int64_t available_bytes = 0;  // what that was checked against (0: not measured)
  double load_ms = 0;
};

struct WorkerHealth {
  bool ready = false;
  std::string status;   // starting | ready | busy | stopping | stopped | failed (model load failed)
  std::string reason;   // why not ready
  int queued = 0, running = 0;
  int64_t jobs_completed = 0, jobs_failed = 0, jobs_cancelled = 0;
  std::string model;    // served model name
  std::string device;
  double model_load_ms = 0;
  // The loaded model (empty until one device has it) and every device's state.
  std::string family, dtype;
  int default_width = 0, default_height = 0, default_steps = 0;
  std::vector<DeviceModelState> devices;
};

struct WorkerConfig {
  std::string model = "demo";       // "demo", a diffusers folder, ...
  std::vector<std::string> model_aliases;  // other names requests may use
  std::vector<std::string> devices{"cpu"};
  std::string dtype = "fp32";
  // Single-file .safetensors checkpoints only: a diffusers folder whose configs to use, and a VAE
  // file replacing the checkpoint's (ModelLoadOptions::config_dir / vae_file). Empty: not given.
  std::string model_config_dir;
  std::string vae_file;
  // Speed switches (ModelLoadOptions): CUDA graph replay of the UNet step, channels_last weights.
  bool cuda_graphs = true;
  std::optional<bool> channels_last;  // unset: on for CUDA, off elsewhere
  size_t queue_capacity = 16;                            // queued jobs beyond running ones
  std::chrono::milliseconds job_deadline{10 * 60 * 1000};  // per job, from submission
  std::chrono::milliseconds result_ttl{10 * 60 * 1000};    // finished jobs kept this long
  size_t max_finished_jobs = 1000;                         // and at most this many
  std::chrono::milliseconds request_timeout{30 * 1000};    // facade calls into the actors
  int default_preview_every = 0;
  bool full_vae_previews = false;
  RequestLimits limits;
  // Memory the loader may plan with (weights + activations estimate); 0: MemAvailable from
  // /proc/meminfo on CPU (not measured on other devices). A model that does not fit is refused.
  int64_t memory_budget_bytes = 0;
  // Longest a single stage request (one denoising step, a decode, a model load) may take before
  // the job fails with "timeout".
  std::chrono::milliseconds stage_timeout{10 * 60 * 1000};
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
};

// One line of the worker's life, for logs and heartbeats: a status change, or a narration with
// rbee's fields (model loading, job queued/started/completed/failed/cancelled, device trouble).
struct LifecycleEvent {
  enum class Kind : uint8_t { status, narration };
  Kind kind = Kind::narration;
  std::string status;          // Kind::status: starting | ready | busy | stopping | stopped | failed
  std::string level = "info";  // info | warn | error
  std::string actor;           // "loader", "job_registry", "device cpu", ...
  std::string action;          // "model_load", "job_started", "status", ...
  std::string target;          // the model, job id or device concerned
  std::string human;           // one sentence for people
  std::string job_id, correlation_id;
  int64_t emitted_at_ms = 0;   // Unix ms
};

class Worker {
 public:
  virtual ~Worker() = default;
  // Starts the actor system and begins loading the model in the background.
  static std::unique_ptr<Worker> start(const WorkerConfig& config);

  // Validates and queues a job; returns its id ("job-<uuid v4>"). Throws WorkerError.
  virtual std::string submit(const JobSubmission& job) = 0;
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
