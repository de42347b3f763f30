// The messages of the actor layer: atoms (at most 10 characters in CAF 0.17), the stages' result
// types, and the `inspect` overloads that make the shared vocabulary travel as messages itself
// (registered by register_message_types): requests as GenerationRequest / ResolvedRequest, pixels
// as Image, files as EncodedImage, tensors as tensor_msg, and the facade's types (JobSubmission,
// JobEvent, JobStatus, WorkerHealth), so a stage or the registry could live in another process.
#pragma once

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/none.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include <optional>

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
// Requests travel as GenerationRequest / ResolvedRequest, pixels as Image, files as EncodedImage
// (their inspect overloads are below); these are the stages' own results.

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
  bool refined = false;  // the latents are the refiner's (decode with its VAE)
};

// Decoder -> device: the images as RGB pixels (VAE decode + to_images), the A1111 parameters
// text, and the time both took.
struct decode_result {
  std::vector<Image> images;
  std::string parameters;
  double decode_ms = 0;
};

// Device -> job registry: what a job produced on the device. The images are pixels still; the
// registry has its writer turn them into files (write_result), with the device free meanwhile.
struct job_result {
  std::vector<Image> images;
  std::string parameters;  // A1111 parameters text (the PNG "parameters" chunk)
  uint64_t seed = 0;
  std::string scheduler;
  double encode_ms = 0, denoise_ms = 0, decode_ms = 0;
  double image_encode_ms = 0;  // 0 from the device; the writer's time once the files exist
};

// Writer -> job registry: the image files and the time encoding them took.
struct write_result {
  std::vector<EncodedImage> images;
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
  // Widths of the text encoders' token embeddings (text_width_2: SDXL's second, else 0), which
  // tell which textual-inversion embeddings fit.
  int64_t text_width = 0, text_width_2 = 0;
  // The refiner loaded beside the model (serve --refiner; empty name: none).
  std::string refiner_name, refiner_label, refiner_family;
  int64_t refiner_weight_bytes = 0;
  // The served ControlNets (serve --controlnet) loaded with the model, by path.
  std::vector<std::string> controlnets;
};

// Registry -> subscriber: the events of a job from an index on; `finished` once the terminal
// event is among those delivered so far.
struct event_batch {
  std::vector<JobEvent> events;
  bool finished = false;
};

// Registers every type above (and tensor_msg, the request and image types, the error category)
// with the actor system.
void register_message_types(caf::actor_system_config& cfg);

// -- inspect ---------------------------------------------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, embeddings_msg& x) {
  return f(caf::meta::type_name("sdw.embeddings"), x.context, x.cfg, x.text_embeds, x.time_ids, x.encode_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, denoise_result& x) {
  return f(caf::meta::type_name("sdw.denoise_result"), x.latents, x.scheduler, x.sampler_name, x.steps,
           x.unet_calls, x.denoise_ms, x.refined);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, decode_result& x) {
  return f(caf::meta::type_name("sdw.decode_result"), x.images, x.parameters, x.decode_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_result& x) {
  return f(caf::meta::type_name("sdw.job_result"), x.images, x.parameters, x.seed, x.scheduler,
           x.encode_ms, x.denoise_ms, x.decode_ms, x.image_encode_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_result& x) {
  return f(caf::meta::type_name("sdw.write_result"), x.images, x.image_encode_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_info& x) {
  return f(caf::meta::type_name("sdw.model_info"), x.name, x.label, x.family, x.device, x.weight_bytes,
           x.estimate_bytes, x.available_bytes, x.load_ms, x.default_width, x.default_height, x.default_steps, x.text_width, x.text_width_2,
           x.refiner_name, x.refiner_label, x.refiner_family, x.refiner_weight_bytes, x.controlnets);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_batch& x) {
  return f(caf::meta::type_name("sdw.event_batch"), x.events, x.finished);
}

}  // namespace sdw::actors

// The shared vocabulary (found by argument-dependent lookup in namespace sdw): requests, images,
// files, and the facade's types.
namespace sdw {

namespace detail {

// A std::optional field (CAF 0.17 has no inspect for it): a presence flag and the value.
template <class T>
struct optional_field {
  std::optional<T>& ref;
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, optional_field<T>& x) {
  bool has = x.ref.has_value();
  T value = has ? *x.ref : T{};
  auto restore = caf::meta::load_callback([&]() -> caf::error {
    if (has)
      x.ref = std::move(value);
    else
      x.ref.reset();
    return caf::none;
  });
  return f(has, value, restore);
}

template <class T>
T& field(T& x) {
  return x;
}
template <class T>
optional_field<T> field(std::optional<T>& x) {
  return {x};
}

// Inspects the fields a struct lists (request_fields), optional ones as flag + value.
template <class Inspector, class... Ts>
typename Inspector::result_type inspect_listed(Inspector& f, const char* name, Ts&... xs) {
  return [&](auto&&... fs) { return f(caf::meta::type_name(name), fs...); }(field(xs)...);
}

}  // namespace detail

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Image& x) {
  return f(caf::meta::type_name("sdw.Image"), x.width, x.height, x.channels, x.pixels);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, LoraUse& x) {
  return f(caf::meta::type_name("sdw.LoraUse"), x.path, x.strength, x.ignore_unmatched);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ControlNetUse& x) {
  return f(caf::meta::type_name("sdw.ControlNetUse"), x.path, x.name, x.image, x.scale, x.start, x.end,
           x.preprocess, x.canny_low, x.canny_high, x.preprocessed);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, HiresOptions& x) {
  return detail::inspect_listed(f, "sdw.HiresOptions", x.scale, x.width, x.height, x.strength, x.steps, x.upscaler,
                                x.prompt, x.negative_prompt);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, DeepCacheOptions& x) {
  return f(caf::meta::type_name("sdw.DeepCacheOptions"), x.interval, x.branch);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TomeOptions& x) {
  return f(caf::meta::type_name("sdw.TomeOptions"), x.ratio);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, GenerationRequest& x) {
  return request_fields(x, [&](auto&... xs) { return detail::inspect_listed(f, "sdw.GenerationRequest", xs...); });
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ResolvedRequest& x) {
  return request_fields(x, [&](auto&... xs) { return detail::inspect_listed(f, "sdw.ResolvedRequest", xs...); });
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, OutputFormat& x) {
  return f(caf::meta::type_name("sdw.OutputFormat"), x.format, x.jpeg_quality);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, JobSubmission& x) {
  return detail::inspect_listed(f, "sdw.JobSubmission", x.request, x.output, x.preview_every, x.deadline,
                                x.cancel_on_disconnect, x.model, x.refiner, x.correlation_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, EncodedImage& x) {
  return f(caf::meta::type_name("sdw.EncodedImage"), x.bytes, x.format, x.width, x.height);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, JobEvent& x) {
  return f(caf::meta::type_name("sdw.JobEvent"), x.type, x.job_id, x.step, x.total, x.images, x.seed, x.message,
           x.error_code, x.elapsed_ms, x.scheduler, x.loras, x.encode_ms, x.denoise_ms, x.decode_ms, x.image_encode_ms, x.actor, x.action,
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
           x.default_width, x.default_height, x.default_steps, x.devices, x.refiner, x.refiner_family,
           x.refiner_weight_bytes);
}

}  // namespace sdw
