// The encoder stage (see encoder.h).
#include "actors/encoder.h"

#include <chrono>

#include "model/pipeline/stages.h"

namespace sdw::actors {

encoder_actor::behavior_type encoder(encoder_actor::stateful_pointer<encoder_state> self, stage_env env) {
  return {
      [=](encode_atom, const ResolvedRequest& request) -> caf::result<embeddings_msg> {
        env.fault("encoder/actor");
        auto model = env.model;
        return reply_from_device<embeddings_msg>(self, env.thread, env.stage_timeout, "encoder", [env, model, request] {
          env.fault("encoder");
          const auto t0 = std::chrono::steady_clock::now();
          PromptEmbeddings p = encode_prompt(*model, request);
          embeddings_msg out;
          out.context = to_message(p.context);
          out.text_embeds = to_message(p.added.text_embeds);
          out.time_ids = to_message(p.added.time_ids);
          out.cfg = p.cfg;
          out.encode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
          return out;
        });
      },
  };
}

}  // namespace sdw::actors
