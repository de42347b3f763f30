// The decoder stage: final latents -> images (VAE decode, stages.h decode_latents/to_images) ->
// file bytes: PNG with the A1111 "parameters" chunk (the text GenerationResult::parameters_text
// writes) or JPEG. Runs on the device thread.
#pragma once

#include "actors/interfaces.h"

namespace sdw::actors {

struct decoder_state {
  static inline const char* name = "sdw.decoder";
};

decoder_actor::behavior_type decoder(decoder_actor::stateful_pointer<decoder_state> self, stage_env env);

// The A1111 parameters text of a job run by the actors (the same text generate()'s callers write).
std::string parameters_text(const job_spec& spec, const denoise_result& denoised);

}  // namespace sdw::actors
