// Type registration (see messages.h).
#include "actors/messages.h"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

#include "actors/errors.h"
#include "actors/node_protocol.h"

namespace sdw::actors {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<tensor_msg>("sdw.tensor");
  cfg.add_message_type<Image>("sdw.Image");
  cfg.add_message_type<std::vector<Image>>("sdw.Images");
  cfg.add_message_type<EncodedImage>("sdw.EncodedImage");
  cfg.add_message_type<std::vector<EncodedImage>>("sdw.EncodedImages");
  cfg.add_message_type<OutputFormat>("sdw.OutputFormat");
  cfg.add_message_type<GenerationRequest>("sdw.GenerationRequest");
  cfg.add_message_type<ResolvedRequest>("sdw.ResolvedRequest");
  cfg.add_message_type<JobSubmission>("sdw.JobSubmission");
  cfg.add_message_type<embeddings_msg>("sdw.embeddings");
  cfg.add_message_type<denoise_result>("sdw.denoise_result");
  cfg.add_message_type<decode_result>("sdw.decode_result");
  cfg.add_message_type<job_result>("sdw.job_result");
  cfg.add_message_type<write_result>("sdw.write_result");
  cfg.add_message_type<model_info>("sdw.model_info");
  cfg.add_message_type<event_batch>("sdw.event_batch");
  cfg.add_message_type<JobEvent>("sdw.JobEvent");
  cfg.add_message_type<JobStatus>("sdw.JobStatus");
  cfg.add_message_type<WorkerHealth>("sdw.WorkerHealth");
  register_node_types(cfg);
  cfg.add_error_category(caf::atom("sd_errc"), [](uint8_t code, caf::atom_value, const caf::message& ctx) {
    std::string text = std::string("sd_errc: ") + to_string(static_cast<WorkerErrc>(code));
    if (ctx.match_elements<std::string>()) text += " (" + ctx.get_as<std::string>(0) + ")";
    return text;
  });
}

}  // namespace sdw::actors
