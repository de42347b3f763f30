// The decoder stage: final latents -> images as 8-bit RGB pixels (VAE decode, stages.h
// decode_latents/to_images) plus the A1111 "parameters" text (what GenerationResult::
// parameters_text writes). Runs on the device thread; only device work: the PNG/JPEG files are
// written afterwards by the job registry's writer (writer.h), off the device.
#pragma once

#include "actors/interfaces.h"

namespace sdw::actors {

struct decoder_state {
  static inline const char* name = "sdw.decoder";
};

decoder_actor::behavior_type decoder(decoder_actor::stateful_pointer<decoder_state> self, stage_env env);

// The A1111 parameters text of a job run by the actors (the same text generate()'s callers write).
std::string parameters_text(const std::string& model_label, const ResolvedRequest& request,
                            const denoise_result& denoised);

}  // namespace sdw::actors
