// The decoder stage (see decoder.h).
#include "actors/decoder.h"

#include <chrono>

#include "model/image/image_io.h"
#include "model/pipeline/stages.h"
#include "model/pipeline/vae_memory.h"

namespace sdw::actors {

std::string parameters_text(const std::string& model_label, const ResolvedRequest& request,
                            const denoise_result& denoised) {
  GenerationResult r;
  r.seed = request.seed;
  r.width = request.request.width;
  r.height = request.request.height;
  r.steps = denoised.steps;
  r.guidance = request.guidance;
  r.scheduler = denoised.scheduler;
  r.sampler_name = denoised.sampler_name;
  return r.parameters_text(model_label, request.request);
}

decoder_actor::behavior_type decoder(decoder_actor::stateful_pointer<decoder_state> self, stage_env env) {
  return {
      [=](decode_atom, const ResolvedRequest& request, const denoise_result& denoised) -> caf::result<decode_result> {
        env.fault("decoder/actor");
        auto model = denoised.refined && env.refiner ? env.refiner : env.model;  // a refiner's latents: its VAE
        return reply_from_device<decode_result>(
            self, env.thread, env.stage_timeout, "decoder", [env, model, request, denoised] {
              env.fault("decoder");
              const auto t0 = std::chrono::steady_clock::now();
              decode_result out;
              at::Tensor latents = from_message(denoised.latents, model->device);
              VaeTilingScope vae_tiling(*model, request.request.vae_tiling);
              out.images = to_images(decode_latents(*model, latents));
              out.parameters = parameters_text(env.model_label, request, denoised);
              out.decode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
              return out;
            });
      },
  };
}

}  // namespace sdw::actors
