// The denoiser stage: embeddings -> final latents, one message per step. {denoise, job, request,
// preview every, embeddings} prepares the job's DenoiseState (kept here, local to this actor) and sends the
// actor {step, job}; each step runs one UNet evaluation + scheduler step on the device thread,
// reports {progress, job, step, total} (and every `preview_every` steps a preview) to the event
// sink, and sends the next {step, job}. A {cancel, job} that arrives meanwhile is handled between
// steps: the job stops after the step in flight, and the reply is a `cancelled` error.
// A base + refiner job (request.refiner_start, the env's refiner) hands off within the loop: once
// the base's schedule ends at denoising_end, the refiner encodes its prompt (text_encoder_2 only)
// and starts from the base's latents (model/pipeline/refiner.h), and the steps go on with it;
// progress counts both models' steps. A hires fix job (request.hires) goes on the same way with
// its second pass (prepare_hires_pass: the upscale, the second prompt, img2img at the target size).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "actors/interfaces.h"
#include "model/pipeline/stages.h"

namespace sdw::actors {

// Continuous batching: every job whose state is ready for its next step waits for the step in
// flight (one at a time per device); then the job that has waited longest leads, and every other
// ready job that can share its UNet call (same model, can_batch: model/pipeline/denoise_step.h),
// up to env.max_batch, steps with it in one device task. A job joins at its own step count and
// leaves when its schedule ends; each keeps its own scheduler and generator, so its image is the
// one it gets alone up to float rounding. The batch sizes go to env.batch_stats (/metrics).
// Memory: a job starts only if the device has room for its step now (read before it allocates,
// not only at load), and a batch takes jobs while their steps together fit the model's budget and
// that reading.
//
// A job's second part: the model its steps run on, and the refiner's or the hires pass's request
// until it starts (touched only by the device thread while a task of the job runs).
struct refiner_handoff {
  std::shared_ptr<SdModel> model;           // the base, then the refiner
  std::optional<ResolvedRequest> refiner;  // pending hand-off
  int64_t refiner_steps = 0;               // the refiner's (or hires pass') step count (progress total)
  int base_steps = 0;                      // the steps the base ran (once handed off)
  bool refined = false;
  // Hires fix (hires_fix.h): the second pass's request, pending until the first pass ends.
  std::optional<ResolvedRequest> hires;
  HiresUpscaler upscaler = HiresUpscaler::latent;
};

struct denoise_job {
  int preview_every = 0;
  int steps = 0;  // as requested (the scheduler may run fewer, e.g. img2img)
  std::shared_ptr<DenoiseState> state;  // touched only by the device thread while a step runs
  std::shared_ptr<refiner_handoff> handoff;
  caf::typed_response_promise<denoise_result> promise;
  bool cancelled = false;
  bool in_flight = false;  // a device task of this job is running
  bool ready = false;      // prepared, no task in flight: waits for its next step
  uint64_t waiting_since = 0;  // denoiser_state::clock when it became ready (the longest-waiting leads)
  int total = 0;
  // The denoiser step's working memory (estimate_job_memory's denoiser_bytes; 0: not estimated),
  // which a batch's members add up against stage_env::job_budget.
  int64_t working_bytes = 0;
  std::string scheduler, sampler_name;
  std::chrono::steady_clock::time_point started;
};

struct denoiser_state {
  std::map<std::string, denoise_job> jobs;
  bool stepping = false;  // a step task (one job or a batch) is on the device thread
  uint64_t clock = 0;
  // The device's free memory when the last job started (device_memory.h; -1: not read): batches
  // fit it as well as the model's budget.
  int64_t live_free = -1;
  static inline const char* name = "sdw.denoiser";
};

denoiser_actor::behavior_type denoiser(denoiser_actor::stateful_pointer<denoiser_state> self, stage_env env);

}  // namespace sdw::actors
