// The messages of the actor layer: atoms (at most 10 characters in CAF 0.17) and the data types
// that travel between actors, each with an `inspect` overload so it can be serialised (registered
// by register_message_types). Everything a stage sends another stage is plain data: requests as
// job_spec, tensors as tensor_msg, images as pixels (image_msg) or file bytes (encoded_image_msg).
// The facade's types (JobEvent, JobStatus, WorkerHealth) are inspectable too, so the job registry
// could live in another process.
#pragma once

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/none.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "actors/tensor_message.h"
#include "actors/worker.h"
#include "model/pipeline/request.h"

namespace caf {
class actor_system_config;
}

namespace sdw::actors {

// -- atoms -----------------------------------------------------------------------------------
using submit_atom = caf::atom_constant<caf::atom("submit")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using events_atom = caf::atom_constant<caf::atom("events")>;
using detach_atom = caf::atom_constant<caf::atom("detach")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using health_atom = caf::atom_constant<caf::atom("health")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using loaded_atom = caf::atom_constant<caf::atom("loaded")>;
using validate_atom = caf::atom_constant<caf::atom("validate")>;
using encode_atom = caf::atom_constant<caf::atom("encode")>;
using denoise_atom = caf::atom_constant<caf::atom("denoise")>;
using decode_atom = caf::atom_constant<caf::atom("decode")>;
using step_atom = caf::atom_constant<caf::atom("step")>;
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using preview_atom = caf::atom_constant<caf::atom("preview")>;
using narrate_atom = caf::atom_constant<caf::atom("narrate")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using grace_atom = caf::atom_constant<caf::atom("grace")>;
using finished_atom = caf::atom_constant<caf::atom("finished")>;
using acquire_atom = caf::atom_constant<caf::atom("acquire")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;
using write_atom = caf::atom_constant<caf::atom("write")>;
using ok_atom = caf::ok_atom;

// -- stage data ------------------------------------------------------------------------------

// 8-bit pixels (an init or mask image; a decoded image before it is written as a file).
struct image_msg {
  int32_t width = 0, height = 0, channels = 0;
  std::string pixels;
};

// One job as every stage sees it: the request (flattened GenerationRequest), after validation
// the resolved values, and the output settings.
struct job_spec {
  std::string job_id;
  std::string model;  // requested model ("" = the served one); after validation the PNG label
  // GenerationRequest
  uint8_t mode = 0;  // GenerationMode
  std::string prompt;
  bool has_negative = false;
  std::string negative_prompt;
  int32_t width = 0, height = 0, steps = 0;
  bool has_guidance = false;
  double guidance = 0;
  bool has_seed = false;
  uint64_t seed = 0;
  std::string scheduler;
  int32_t clip_skip = 1;
  double strength = 0.8;
  int32_t num_images = 1;
  image_msg init_image, mask_image;
  // set by validation (resolve_request)
  bool resolved = false;
  std::string scheduler_name;
  // output
  std::string output_format = "png";
  int32_t jpeg_quality = 90;
  int32_t preview_every = 0;
  bool full_vae_previews = false;
  int64_t deadline_ms = 0;
  bool cancel_on_disconnect = false;
  std::string correlation_id;
};

// Encoder -> denoiser: [uncond x N, cond x N] with CFG, [cond x N] without.
struct embeddings_msg {
  tensor_msg context;
  bool cfg = false;
  tensor_msg text_embeds, time_ids;  // SDXL's added conditioning (empty for SD1.x/2.x)
  double encode_ms = 0;
};

// Denoiser -> decoder: the final latents and the facts of the run.
struct denoise_result {
  tensor_msg latents;
  std::string scheduler;     // diffusers class name
  std::string sampler_name;  // A1111 display name
  int32_t steps = 0, unet_calls = 0;
  double denoise_ms = 0;
};

struct encoded_image_msg {
  std::string bytes;
  std::string format;  // "png" | "jpeg"
  int32_t width = 0, height = 0;
};

// How a job's images become files: PNG (with the A1111 parameters text) or JPEG at a quality.
struct image_format {
  std::string format = "png";  // "png" | "jpeg"
  int32_t jpeg_quality = 90;
};

// Decoder -> device: the images as RGB pixels (VAE decode + to_images), the A1111 parameters
// text, and the time both took.
struct decode_result {
  std::vector<image_msg> images;
  std::string parameters;
  double decode_ms = 0;
};

// Device -> job registry: what a job produced on the device. The images are pixels still; the
// registry has its writer turn them into files (write_result), with the device free meanwhile.
struct job_result {
  std::vector<image_msg> images;
  std::string parameters;  // A1111 parameters text (the PNG "parameters" chunk)
  image_format format;
  uint64_t seed = 0;
  std::string scheduler;
  double encode_ms = 0, denoise_ms = 0, decode_ms = 0;
  double image_encode_ms = 0;  // 0 from the device; the writer's time once the files exist
};

// Writer -> job registry: the image files and the time encoding them took.
struct write_result {
  std::vector<encoded_image_msg> images;
  double image_encode_ms = 0;
};

// Loader -> device -> job registry: the loaded model.
struct model_info {
  std::string name;    // as configured
  std::string label;   // short name for the PNG parameters ("demo", folder name)
  std::string family;
  std::string device;
  int64_t weight_bytes = 0;
  int64_t estimate_bytes = 0;   // weights + activations, as checked against available memory
  int64_t available_bytes = 0;  // what it was checked against (0: not measured)
  double load_ms = 0;
  int32_t default_width = 0, default_height = 0, default_steps = 0;
};

// Registry -> subscriber: the events of a job from an index on; `finished` once the terminal
// event is among those delivered so far.
struct event_batch {
  std::vector<JobEvent> events;
  bool finished = false;
};

// Conversions between the facade's request and job_spec.
job_spec make_job_spec(const JobSubmission& submission);
GenerationRequest to_request(const job_spec& spec);
ResolvedRequest to_resolved(const job_spec& spec);
void store_resolved(job_spec& spec, const ResolvedRequest& resolved);
image_msg to_message(const Image& image);
Image from_message(const image_msg& m);
EncodedImage to_encoded_image(const encoded_image_msg& m);

// Registers every type above (and tensor_msg, sd_errc) with the actor system.
void register_message_types(caf::actor_system_config& cfg);

// -- inspect ---------------------------------------------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, image_msg& x) {
  return f(caf::meta::type_name("sdw.image"), x.width, x.height, x.channels, x.pixels);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_spec& x) {
  return f(caf::meta::type_name("sdw.job_spec"), x.job_id, x.model, x.mode, x.prompt, x.has_negative,
           x.negative_prompt, x.width, x.height, x.steps, x.has_guidance, x.guidance, x.has_seed, x.seed,
           x.scheduler, x.clip_skip, x.strength, x.num_images, x.init_image, x.mask_image, x.resolved,
           x.scheduler_name, x.output_format, x.jpeg_quality, x.preview_every, x.full_vae_previews, x.deadline_ms,
           x.cancel_on_disconnect, x.correlation_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, embeddings_msg& x) {
  return f(caf::meta::type_name("sdw.embeddings"), x.context, x.cfg, x.text_embeds, x.time_ids, x.encode_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, denoise_result& x) {
  return f(caf::meta::type_name("sdw.denoise_result"), x.latents, x.scheduler, x.sampler_name, x.steps,
           x.unet_calls, x.denoise_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, encoded_image_msg& x) {
  return f(caf::meta::type_name("sdw.encoded_image"), x.bytes, x.format, x.width, x.height);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, image_format& x) {
  return f(caf::meta::type_name("sdw.image_format"), x.format, x.jpeg_quality);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, decode_result& x) {
  return f(caf::meta::type_name("sdw.decode_result"), x.images, x.parameters, x.decode_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_result& x) {
  return f(caf::meta::type_name("sdw.job_result"), x.images, x.parameters, x.format, x.seed, x.scheduler,
           x.encode_ms, x.denoise_ms, x.decode_ms, x.image_encode_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_result& x) {
  return f(caf::meta::type_name("sdw.write_result"), x.images, x.image_encode_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_info& x) {
  return f(caf::meta::type_name("sdw.model_info"), x.name, x.label, x.family, x.device, x.weight_bytes,
           x.estimate_bytes, x.available_bytes, x.load_ms, x.default_width, x.default_height, x.default_steps);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_batch& x) {
  return f(caf::meta::type_name("sdw.event_batch"), x.events, x.finished);
}

}  // namespace sdw::actors

// The facade's types (found by argument-dependent lookup in namespace sdw).
namespace sdw {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, EncodedImage& x) {
  return f(caf::meta::type_name("sdw.EncodedImage"), x.bytes, x.format, x.width, x.height);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, JobEvent& x) {
  return f(caf::meta::type_name("sdw.JobEvent"), x.type, x.job_id, x.step, x.total, x.images, x.seed, x.message,
           x.error_code, x.elapsed_ms, x.scheduler, x.encode_ms, x.denoise_ms, x.decode_ms, x.image_encode_ms, x.actor, x.action,
           x.target, x.correlation_id, x.emitted_at_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, JobStatus& x) {
  // std::optional is not inspectable in CAF 0.17: it travels as a flag and a value.
  bool has_result = x.result.has_value();
  JobEvent result = has_result ? *x.result : JobEvent{};
  auto restore = caf::meta::load_callback([&]() -> caf::error {
    if (has_result)
      x.result = result;
    else
      x.result.reset();
    return caf::none;
  });
  return f(caf::meta::type_name("sdw.JobStatus"), x.job_id, x.state, x.step, x.total, x.queue_position, x.error,
           x.error_code, has_result, result, restore);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, DeviceModelState& x) {
  return f(caf::meta::type_name("sdw.DeviceModelState"), x.device, x.state, x.error, x.job, x.weight_bytes,
           x.estimate_bytes, x.available_bytes, x.load_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, WorkerHealth& x) {
  return f(caf::meta::type_name("sdw.WorkerHealth"), x.ready, x.status, x.reason, x.queued, x.running,
           x.jobs_completed, x.jobs_failed, x.jobs_cancelled, x.model, x.device, x.model_load_ms, x.family, x.dtype,
           x.default_width, x.default_height, x.default_steps, x.devices);
}

}  // namespace sdw
