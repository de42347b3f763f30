// The encoder stage (see encoder.h).
#include "actors/encoder.h"

#include <chrono>

#include "model/pipeline/stages.h"

namespace sdw::actors {

encoder_actor::behavior_type encoder(encoder_actor::stateful_pointer<encoder_state> self, stage_env env) {
  return {
      [=](encode_atom, const ResolvedRequest& request) -> caf::result<embeddings_msg> {
        env.fault("encoder/actor");
        auto rp = self->make_response_promise<embeddings_msg>();
        auto out = std::make_shared<embeddings_msg>();
        auto model = env.model;
        run_on_device(
            self, env.thread, env.stage_timeout, "encoder",
            [env, model, request, out] {
              env.fault("encoder");
              const auto t0 = std::chrono::steady_clock::now();
              PromptEmbeddings p = encode_prompt(*model, request);
              out->context = to_message(p.context);
              out->text_embeds = to_message(p.added.text_embeds);
              out->time_ids = to_message(p.added.time_ids);
              out->cfg = p.cfg;
              out->encode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            },
            [rp, out](const caf::error& err) mutable {
              if (err)
                rp.deliver(err);
              else
                rp.deliver(std::move(*out));
            });
        return rp;
      },
  };
}

}  // namespace sdw::actors
