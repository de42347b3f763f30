// The typed interfaces of the actors (what each accepts and answers), and what a stage actor is
// given when it is spawned. Replies that fail carry a WorkerErrc error (errors.h).
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/batch_stats.h"
#include "actors/device_thread.h"
#include "actors/errors.h"
#include "actors/messages.h"
#include "actors/remote_types.h"
#include "model/pipeline/sd_model.h"

namespace sdw::actors {

// A loaded model, shared by the stage actors of one device (weights are read-only during
// inference). Local to the process: a remote stage uses its own node's loader.
struct model_handle {
  std::shared_ptr<SdModel> model;
  std::string label;  // the short name written into the PNG parameters ("demo", the folder's name)
  // The working memory the model leaves its jobs (loader_state::job_budget; -1: unchecked).
  int64_t job_budget = -1;
};

}  // namespace sdw::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sdw::actors::model_handle)

namespace sdw::actors {

// Where stages report a job's events: {progress, job, step, total, elapsed_ms},
// {preview, job, step, total, image} and narration lines {narrate, actor, text}.
using event_sink_actor =
    caf::typed_actor<caf::reacts_to<progress_atom, std::string, int32_t, int32_t, double>,
                     caf::reacts_to<preview_atom, std::string, int32_t, int32_t, EncodedImage>,
                     caf::reacts_to<narrate_atom, std::string, std::string>>;

// Loads the model once (reporting progress as narration), refuses one that does not fit the
// memory budget (out_of_memory), validates requests against it (the model's defaults applied,
// every value checked), hands it to the device's stages.
using loader_actor = caf::typed_actor<caf::replies_to<load_atom>::with<model_info>,
                                      caf::replies_to<validate_atom, GenerationRequest>::with<ResolvedRequest>,
                                      caf::replies_to<acquire_atom>::with<model_handle>>;

// prompt -> embeddings (negative and positive). The request comes without its images.
using encoder_actor = caf::typed_actor<caf::replies_to<encode_atom, ResolvedRequest>::with<embeddings_msg>>;

// {denoise, job, request, preview every, embeddings} -> final latents, one {step, job} message per
// step; {cancel, job} stops it between steps (the reply is then a `cancelled` error). The only
// stage that reads the request's images (img2img / inpaint).
using denoiser_actor =
    caf::typed_actor<caf::replies_to<denoise_atom, std::string, ResolvedRequest, int32_t, embeddings_msg>::with<
                         denoise_result>,
                                        caf::reacts_to<step_atom, std::string>,
                                        caf::reacts_to<cancel_atom, std::string>>;

// latents -> RGB pixels (VAE decode + to_images) and the A1111 parameters text. The request comes
// without its images.
using decoder_actor =
    caf::typed_actor<caf::replies_to<decode_atom, ResolvedRequest, denoise_result>::with<decode_result>>;

// One device (cpu, cuda:N, mps): its thread, its loader and stage actors (supervised), and one job
// at a time through encoder -> denoiser -> decoder: {run, job, request, preview every}. Its `run`
// reply carries the images as pixels.
using device_actor = caf::typed_actor<caf::replies_to<load_atom>::with<model_info>,
                                      caf::replies_to<validate_atom, GenerationRequest>::with<ResolvedRequest>,
                                      caf::replies_to<run_atom, std::string, ResolvedRequest, int32_t>::with<job_result>,
                                      caf::reacts_to<cancel_atom, std::string>>;

// pixels -> image files, off the device: {write, job, format, images, parameters text} -> PNG
// (with the parameters chunk) or JPEG bytes and the time that took. One per device slot of the
// registry, a detached actor (its own thread).
using writer_actor =
    caf::typed_actor<caf::replies_to<write_atom, std::string, OutputFormat, std::vector<Image>, std::string>::with<
        write_result>>;

// The job registry: the facade's entry point, the dispatcher and every job's event history.
using registry_actor = caf::typed_actor<
    caf::replies_to<submit_atom, JobSubmission>::with<std::string>,
    caf::replies_to<subscribe_atom, std::string>::with<ok_atom>,
    caf::replies_to<events_atom, std::string, uint64_t, int64_t>::with<event_batch>,  // job, from, wait ms
    caf::reacts_to<detach_atom, std::string>,
    caf::replies_to<cancel_atom, std::string>::with<ok_atom>,
    caf::replies_to<status_atom, std::string>::with<JobStatus>,
    caf::replies_to<health_atom>::with<WorkerHealth>,
    caf::replies_to<shutdown_atom, int64_t>::with<ok_atom>,  // grace ms
    caf::replies_to<ready_atom, int64_t>::with<bool>,        // wait ms: true once loaded
    caf::reacts_to<progress_atom, std::string, int32_t, int32_t, double>,
    caf::reacts_to<preview_atom, std::string, int32_t, int32_t, EncodedImage>,
    caf::reacts_to<narrate_atom, std::string, std::string>,
    caf::reacts_to<sweep_atom>,
    caf::reacts_to<expire_atom, uint64_t>,
    caf::reacts_to<grace_atom>>;

// What a stage actor gets at spawn: its device, the device thread that runs its libtorch work, the
// model, where to report events, and limits.
struct stage_env {
  std::string device_name = "cpu";
  device_thread_actor thread;
  event_sink_actor events;
  std::shared_ptr<SdModel> model;
  std::string model_label;  // model_handle::label
  // serve --refiner: the SDXL refiner a job with request.refiner_start hands its latents to (the
  // denoiser runs both models' steps, the decoder decodes with the refiner's VAE); null: none.
  std::shared_ptr<SdModel> refiner;
  RequestLimits limits;  // the server's, for the refiner's request
  std::chrono::milliseconds stage_timeout{10 * 60 * 1000};
  bool full_vae_previews = false;
  std::function<void(const std::string&)> fault_injection;
  // serve --stage: the stages that run on other nodes (the factory then spawns a router,
  // remote_stage.h) and the node links' shared state; null: every stage runs here.
  std::shared_ptr<const RemoteStagesConfig> remote;
  std::shared_ptr<RemoteStatus> remote_status;
  // Continuous batching (denoiser.h): the most jobs one UNet call may serve, and where the batch
  // sizes are counted (null: not counted).
  int max_batch = 1;
  std::shared_ptr<BatchStats> batch_stats;
  // The working memory the model leaves its jobs (model_handle::job_budget; -1: unchecked): a
  // batch takes jobs only while their denoiser estimates together fit it (job_memory.h).
  int64_t job_budget = -1;

  // Calls the fault hook, if any, with `point`.
  void fault(const std::string& point) const {
    if (fault_injection) fault_injection(point);
  }
};

}  // namespace sdw::actors
