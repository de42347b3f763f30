// The types the facade (worker.h), the actors and net/ share: the job a caller submits, the
// events and status it reads back, the worker's health, lifecycle lines, the one error code enum
// and the rule of which model names are served. Plain C++ (no CAF); the actors' CAF `inspect`
// overloads for them live in actors/messages.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/image/output_format.h"
#include "model/pipeline/request.h"

namespace sdw {

// Typed failures a caller can map to protocol errors (HTTP status, exit code). The one error code
// enum of the worker: the actors carry it in caf::error (category "sd_errc", actors/errors.h), the
// facade throws it as WorkerError, net/ maps it to an HTTP status.
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
  std::vector<LoraUse> loras;        // complete: the LoRAs the job applied
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
  OutputFormat output;                // PNG (with the A1111 parameters chunk) or JPEG at a quality
  int preview_every = 0;              // 0: no previews
  std::optional<std::chrono::milliseconds> deadline;  // default: the worker's
  bool cancel_on_disconnect = false;
  std::string model;                  // "": the served model; otherwise it or an alias (model_not_found)
  // SDXL base + refiner: the served refiner's name (serve --refiner), with request.refiner_start
  // set; "": no refiner. A name not served is model_not_found, a worker without one invalid_request.
  std::string refiner;
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
  std::vector<std::string> controlnets;  // served ControlNets loaded with the model (paths)
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
  int64_t text_width = 0, text_width_2 = 0;  // the text encoders' widths (model_info)
  std::vector<DeviceModelState> devices;
  // serve --refiner: its configured name and, once loaded, its family and weights ("" otherwise).
  std::string refiner, refiner_family;
  int64_t refiner_weight_bytes = 0;
};

// The model this process serves and the other names a request may use for it: its configured
// name, its aliases and (once loaded) its short label ("demo", the folder's name).
struct ServedModel {
  std::string name = "demo";
  std::vector<std::string> aliases;
  std::string label;
  bool accepts(const std::string& model) const;
  std::string describe() const;  // "'demo'" or "'sd15' (aliases: 'a', 'b')"
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

}  // namespace sdw
