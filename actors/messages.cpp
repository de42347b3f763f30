// Message conversions and type registration (see messages.h).
#include "actors/messages.h"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

#include "actors/errors.h"

namespace sdw::actors {

image_msg to_message(const Image& image) {
  image_msg m;
  m.width = image.width;
  m.height = image.height;
  m.channels = image.channels;
  m.pixels.assign(image.pixels.begin(), image.pixels.end());
  return m;
}

Image from_message(const image_msg& m) {
  Image image;
  image.width = m.width;
  image.height = m.height;
  image.channels = m.channels;
  image.pixels.assign(m.pixels.begin(), m.pixels.end());
  return image;
}

EncodedImage to_encoded_image(const encoded_image_msg& m) {
  EncodedImage e;
  e.bytes = m.bytes;
  e.format = m.format;
  e.width = m.width;
  e.height = m.height;
  return e;
}

job_spec make_job_spec(const JobSubmission& s) {
  const GenerationRequest& r = s.request;
  job_spec j;
  j.model = s.model;
  j.mode = static_cast<uint8_t>(r.mode);
  j.prompt = r.prompt;
  j.has_negative = r.negative_prompt.has_value();
  j.negative_prompt = r.negative_prompt.value_or("");
  j.width = r.width;
  j.height = r.height;
  j.steps = r.steps;
  j.has_guidance = r.guidance.has_value();
  j.guidance = r.guidance.value_or(0);
  j.has_seed = r.seed.has_value();
  j.seed = r.seed.value_or(0);
  j.scheduler = r.scheduler;
  j.clip_skip = r.clip_skip;
  j.strength = r.strength;
  j.num_images = r.num_images;
  j.init_image = to_message(r.init_image);
  j.mask_image = to_message(r.mask_image);
  j.output_format = s.output_format;
  j.jpeg_quality = s.jpeg_quality;
  j.preview_every = s.preview_every;
  j.deadline_ms = s.deadline ? s.deadline->count() : 0;
  j.cancel_on_disconnect = s.cancel_on_disconnect;
  j.correlation_id = s.correlation_id;
  return j;
}

GenerationRequest to_request(const job_spec& j) {
  GenerationRequest r;
  r.mode = static_cast<GenerationMode>(j.mode);
  r.prompt = j.prompt;
  if (j.has_negative) r.negative_prompt = j.negative_prompt;
  r.width = j.width;
  r.height = j.height;
  r.steps = j.steps;
  if (j.has_guidance) r.guidance = j.guidance;
  if (j.has_seed) r.seed = j.seed;
  r.scheduler = j.scheduler;
  r.clip_skip = j.clip_skip;
  r.strength = j.strength;
  r.num_images = j.num_images;
  r.init_image = from_message(j.init_image);
  r.mask_image = from_message(j.mask_image);
  return r;
}

ResolvedRequest to_resolved(const job_spec& j) {
  ResolvedRequest r;
  r.request = to_request(j);
  r.guidance = j.guidance;
  r.seed = j.seed;
  r.scheduler_name = j.scheduler_name;
  return r;
}

void store_resolved(job_spec& j, const ResolvedRequest& resolved) {
  const GenerationRequest& r = resolved.request;
  j.width = r.width;
  j.height = r.height;
  j.steps = r.steps;
  j.has_guidance = true;
  j.guidance = resolved.guidance;
  j.has_seed = true;
  j.seed = resolved.seed;
  j.init_image = to_message(r.init_image);
  j.mask_image = to_message(r.mask_image);
  j.scheduler_name = resolved.scheduler_name;
  j.resolved = true;
}

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<tensor_msg>("sdw.tensor");
  cfg.add_message_type<image_msg>("sdw.image");
  cfg.add_message_type<std::vector<image_msg>>("sdw.images");
  cfg.add_message_type<image_format>("sdw.image_format");
  cfg.add_message_type<job_spec>("sdw.job_spec");
  cfg.add_message_type<embeddings_msg>("sdw.embeddings");
  cfg.add_message_type<denoise_result>("sdw.denoise_result");
  cfg.add_message_type<encoded_image_msg>("sdw.encoded_image");
  cfg.add_message_type<std::vector<encoded_image_msg>>("sdw.encoded_images");
  cfg.add_message_type<decode_result>("sdw.decode_result");
  cfg.add_message_type<job_result>("sdw.job_result");
  cfg.add_message_type<write_result>("sdw.write_result");
  cfg.add_message_type<model_info>("sdw.model_info");
  cfg.add_message_type<event_batch>("sdw.event_batch");
  cfg.add_message_type<EncodedImage>("sdw.EncodedImage");
  cfg.add_message_type<JobEvent>("sdw.JobEvent");
  cfg.add_message_type<JobStatus>("sdw.JobStatus");
  cfg.add_message_type<WorkerHealth>("sdw.WorkerHealth");
  cfg.add_error_category(caf::atom("sd_errc"), [](uint8_t code, caf::atom_value, const caf::message& ctx) {
    std::string text = std::string("sd_errc: ") + to_string(static_cast<sd_errc>(code));
    if (ctx.match_elements<std::string>()) text += " (" + ctx.get_as<std::string>(0) + ")";
    return text;
  });
}

}  // namespace sdw::actors
