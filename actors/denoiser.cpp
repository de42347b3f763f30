// The denoiser stage (see denoiser.h).
#include "actors/denoiser.h"

#include <optional>

#include "actors/preview.h"
#include "model/image/image_io.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/hires_fix.h"
#include "model/pipeline/refiner.h"
#include "model/pipeline/taesd_use.h"
#include "model/pipeline/vae_memory.h"

namespace sdw::actors {
namespace {

using self_ptr = denoiser_actor::stateful_pointer<denoiser_state>;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Answers the job's requester and forgets the job.
void finish(self_ptr self, const std::string& id, const caf::error& err, denoise_result* result = nullptr) {
  auto it = self->state.jobs.find(id);
  if (it == self->state.jobs.end()) return;
  if (err)
    it->second.promise.deliver(err);
  else
    it->second.promise.deliver(std::move(*result));
  self->state.jobs.erase(it);
}

void finish_cancelled(self_ptr self, const std::string& id) {
  finish(self, id, make_sd_error(WorkerErrc::cancelled, "cancelled between denoising steps"));
}

// What one step's device task hands back.
struct step_output {
  int step = 0;
  bool done = false;
  std::optional<EncodedImage> preview;
  tensor_msg final_latents;
  bool refined = false;
};

void run_step(self_ptr self, const stage_env& env, const std::string& id) {
  auto it = self->state.jobs.find(id);
  if (it == self->state.jobs.end()) return;
  denoise_job& job = it->second;
  if (job.cancelled) return finish_cancelled(self, id);
  env.fault("denoiser/actor");
  job.in_flight = true;
  auto out = std::make_shared<step_output>();
  auto state = job.state;
  auto handoff = job.handoff;
  const int every = job.preview_every;
  const bool full_vae = env.full_vae_previews;
  run_on_device(
      self, env.thread, env.stage_timeout, "denoiser",
      [env, handoff, state, out, every, full_vae] {
        env.fault("denoiser");
        denoise_step(*handoff->model, *state);
        if (state->done() && handoff->refiner) {
          // The base stopped at denoising_end: the refiner takes its latents and generator.
          handoff->base_steps = static_cast<int>(state->step);
          PromptEmbeddings prompt = encode_prompt(*env.refiner, *handoff->refiner);
          *state = prepare_refiner(*env.refiner, *handoff->refiner, std::move(prompt), *state);
          handoff->model = env.refiner;
          handoff->refiner.reset();
          handoff->refined = true;
        } else if (state->done() && handoff->hires) {
          // Hires fix: the first pass ended; its latents are upscaled for the img2img pass.
          handoff->base_steps = static_cast<int>(state->step);
          *state = prepare_hires_pass(*handoff->model, *handoff->hires, handoff->upscaler, state->latents);
          handoff->hires.reset();
        }
        const auto model = handoff->model;
        out->step = handoff->base_steps + static_cast<int>(state->step);
        out->done = state->done();
        out->refined = handoff->refined;
        if (every > 0 && out->step % every == 0 && !out->done) {
          Image img = model->taesd_previews ? taesd_preview(*model, state->latents)
                      : full_vae            ? vae_preview(*model, state->latents)
                                            : latent_preview(state->latents, model->family);
          out->preview = OutputFormat{}.encode(img, "");
        }
        if (out->done) out->final_latents = to_message(state->latents);
      },
      [self, env, id, out](const caf::error& err) {
        auto it = self->state.jobs.find(id);
        if (it == self->state.jobs.end()) return;
        denoise_job& job = it->second;
        job.in_flight = false;
        if (err) return finish(self, id, err);
        self->send(env.events, progress_atom::value, id, int32_t{out->step}, int32_t{job.total}, ms_since(job.started));
        if (out->preview) self->send(env.events, preview_atom::value, id, int32_t{out->step}, int32_t{job.total}, *out->preview);
        if (out->done) {
          denoise_result r;
          r.latents = std::move(out->final_latents);
          r.scheduler = job.scheduler;
          r.sampler_name = job.sampler_name;
          r.steps = job.steps;
          r.unet_calls = out->step;
          r.denoise_ms = ms_since(job.started);
          r.refined = out->refined;
          return finish(self, id, caf::error{}, &r);
        }
        if (job.cancelled) return finish_cancelled(self, id);
        self->send(self, step_atom::value, id);
      });
}

}  // namespace

denoiser_actor::behavior_type denoiser(denoiser_actor::stateful_pointer<denoiser_state> self, stage_env env) {
  return {
      [=](denoise_atom, const std::string& id, ResolvedRequest& request, int32_t preview_every,
          const embeddings_msg& emb) -> caf::result<denoise_result> {
        if (self->state.jobs.count(id)) return make_sd_error(WorkerErrc::internal, "job " + id + " is already denoising");
        if (request.request.refiner_start && !env.refiner)
          return make_sd_error(WorkerErrc::invalid_request, "this worker serves no refiner (serve --refiner MODEL)");
        auto rp = self->make_response_promise<denoise_result>();
        denoise_job& job = self->state.jobs[id];
        job.preview_every = preview_every;
        job.steps = request.request.steps;
        job.promise = rp;
        job.started = std::chrono::steady_clock::now();
        job.in_flight = true;
        auto state = std::make_shared<DenoiseState>();
        job.state = state;
        auto model = env.model;
        auto handoff = std::make_shared<refiner_handoff>();
        handoff->model = model;
        job.handoff = handoff;
        auto names = std::make_shared<std::pair<std::string, std::string>>();
        auto req = std::make_shared<ResolvedRequest>(std::move(request));  // the pixels are moved, not copied
        run_on_device(
            self, env.thread, env.stage_timeout, "denoiser",
            [env, model, req, emb, state, names, handoff] {
              PromptEmbeddings prompt;
              prompt.context = from_message(emb.context, model->device);
              prompt.cfg = emb.cfg;
              prompt.added.text_embeds = from_message(emb.text_embeds, model->device);
              prompt.added.time_ids = from_message(emb.time_ids, model->device);
              VaeTilingScope vae_tiling(*model, req->request.vae_tiling);  // an img2img / inpaint encode
              *state = prepare_denoise(*model, *req, std::move(prompt));
              if (const auto& hires = req->request.hires) {
                handoff->hires = hires_second_request(*model, *req, env.limits);
                handoff->upscaler = hires->upscaler;
                handoff->refiner_steps = hires_step_count(*model, *handoff->hires);
              }
              if (const auto start = req->request.refiner_start) {
                handoff->refiner = refiner_request(*env.refiner, *req, *start, env.limits);
                handoff->refiner_steps = refiner_step_count(*env.refiner, *handoff->refiner);
              }
              names->first = state->scheduler->class_name();
              names->second = sampler_display_name(*state->scheduler);
            },
            [self, env, id, state, names, handoff](const caf::error& err) {
              auto it = self->state.jobs.find(id);
              if (it == self->state.jobs.end()) return;
              denoise_job& job = it->second;
              job.in_flight = false;
              if (err) return finish(self, id, err);
              if (job.cancelled) return finish_cancelled(self, id);
              job.total = static_cast<int>(state->total() + handoff->refiner_steps);
              job.scheduler = names->first;
              job.sampler_name = names->second;
              self->send(self, step_atom::value, id);
            });
        return rp;
      },
      [=](step_atom, const std::string& id) { run_step(self, env, id); },
      [=](cancel_atom, const std::string& id) {
        auto it = self->state.jobs.find(id);
        if (it == self->state.jobs.end()) return;
        it->second.cancelled = true;
        // With a step in flight, the job stops when it returns; otherwise now.
        if (!it->second.in_flight) finish_cancelled(self, id);
      },
  };
}

}  // namespace sdw::actors
