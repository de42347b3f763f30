// The encoder stage: a job's prompt (and negative prompt) -> text embeddings, with the model's
// CLIP text encoder (stages.h encode_prompt) on the device thread.
#pragma once

#include "actors/interfaces.h"

namespace sdw::actors {

struct encoder_state {
  static inline const char* name = "sdw.encoder";
};

encoder_actor::behavior_type encoder(encoder_actor::stateful_pointer<encoder_state> self, stage_env env);

}  // namespace sdw::actors
