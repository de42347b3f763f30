// The denoiser stage (see denoiser.h).
#include "actors/denoiser.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "actors/memory_estimate.h"
#include "actors/preview.h"
#include "model/image/image_io.h"
#include "model/pipeline/denoise_step.h"
#include "model/pipeline/device_memory.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/hires_fix.h"
#include "model/pipeline/job_memory.h"
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

// What one job's part of a step task hands back.
struct step_output {
  int step = 0;
  bool done = false;
  std::optional<EncodedImage> preview;
  tensor_msg final_latents;
  bool refined = false;
};

// One job of a step task, as the device thread sees it.
struct step_member {
  std::string id;
  std::shared_ptr<DenoiseState> state;
  std::shared_ptr<refiner_handoff> handoff;
  int preview_every = 0;
  std::shared_ptr<step_output> out = std::make_shared<step_output>();
};

// After a job's step (device thread): a refiner or hires hand-off when its pass ended, its
// preview, its final latents.
void after_step(const stage_env& env, step_member& m) {
  DenoiseState* state = m.state.get();
  refiner_handoff& handoff = *m.handoff;
  step_output& out = *m.out;
  if (state->done() && handoff.refiner) {
    // The base stopped at denoising_end: the refiner takes its latents and generator.
    handoff.base_steps = static_cast<int>(state->step);
    PromptEmbeddings prompt = encode_prompt(*env.refiner, *handoff.refiner);
    *state = prepare_refiner(*env.refiner, *handoff.refiner, std::move(prompt), *state);
    handoff.model = env.refiner;
    handoff.refiner.reset();
    handoff.refined = true;
  } else if (state->done() && handoff.hires) {
    // Hires fix: the first pass ended; its latents are upscaled for the img2img pass.
    handoff.base_steps = static_cast<int>(state->step);
    *state = prepare_hires_pass(*handoff.model, *handoff.hires, handoff.upscaler, state->latents);
    handoff.hires.reset();
  }
  const auto model = handoff.model;
  out.step = handoff.base_steps + static_cast<int>(state->step);
  out.done = state->done();
  out.refined = handoff.refined;
  if (m.preview_every > 0 && out.step % m.preview_every == 0 && !out.done) {
    Image img = model->taesd_previews ? taesd_preview(*model, state->latents)
                : env.full_vae_previews ? vae_preview(*model, state->latents)
                                        : latent_preview(state->latents, model->family);
    out.preview = OutputFormat{}.encode(img, "");
  }
  if (out.done) out.final_latents = to_message(state->latents);
}

// On the device thread, before a job's denoising allocates anything (no other stage's work is on
// the device then): the device's free memory now, which must hold the job's step. The loader's
// budget was read when the model loaded; other programs (or models) may have taken memory since.
// Throws out_of_memory, so that job fails with a clear error instead of an OOM crash. Returns the
// reading (-1: unknown).
int64_t check_live_memory(const stage_env& env, const SdModel& model, const ResolvedRequest& r, int64_t working) {
  const int64_t free = device_free_bytes(model.device);
  if (free < 0 || working <= free) return free;
  const GenerationRequest& q = r.request;
  throw WorkerError(WorkerErrc::out_of_memory,
                    "this job (" + std::to_string(q.width) + "x" + std::to_string(q.height) + ", " +
                        std::to_string(q.num_images) + " image(s)) needs about " + format_bytes(working) +
                        " for its denoising steps, but " + env.device_name + " has only " + format_bytes(free) +
                        " free now (the memory budget was read when the model loaded; other programs may use "
                        "the rest); try again later, or ask for fewer images or a smaller size");
}

// The ready jobs that step next: the one that has waited longest, and the ready jobs that can
// share its UNet call, longest-waiting first, up to env.max_batch.
std::vector<std::string> next_batch(self_ptr self, const stage_env& env) {
  std::vector<std::pair<uint64_t, std::string>> ready;
  for (auto& [id, job] : self->state.jobs)
    if (job.ready && !job.in_flight && !job.cancelled) ready.emplace_back(job.waiting_since, id);
  std::sort(ready.begin(), ready.end());
  std::vector<std::string> batch;
  if (ready.empty()) return batch;
  const denoise_job& lead = self->state.jobs.at(ready.front().second);
  batch.push_back(ready.front().second);
  const int limit = std::max(1, env.max_batch);
  // What the jobs may use together: the model's budget, or less where the device had less free at
  // the last job's start.
  int64_t budget = env.job_budget;
  if (budget >= 0 && self->state.live_free >= 0) budget = std::min(budget, self->state.live_free);
  int64_t working = lead.working_bytes;  // each job fits alone (checked when it started); together they must too
  for (size_t i = 1; i < ready.size() && static_cast<int>(batch.size()) < limit; ++i) {
    const denoise_job& other = self->state.jobs.at(ready[i].second);
    if (budget >= 0 && working + other.working_bytes > budget) continue;
    if (other.handoff->model == lead.handoff->model && can_batch(*lead.handoff->model, *lead.state, *other.state)) {
      batch.push_back(ready[i].second);
      working += other.working_bytes;
    }
  }
  return batch;
}

void job_stepped(self_ptr self, const stage_env& env, const step_member& m) {
  auto it = self->state.jobs.find(m.id);
  if (it == self->state.jobs.end()) return;
  denoise_job& job = it->second;
  const step_output& out = *m.out;
  self->send(env.events, progress_atom::value, m.id, int32_t{out.step}, int32_t{job.total}, ms_since(job.started));
  if (out.preview) self->send(env.events, preview_atom::value, m.id, int32_t{out.step}, int32_t{job.total}, *out.preview);
  if (out.done) {
    denoise_result r;
    r.latents = std::move(m.out->final_latents);
    r.scheduler = job.scheduler;
    r.sampler_name = job.sampler_name;
    r.steps = job.steps;
    r.unet_calls = out.step;
    r.denoise_ms = ms_since(job.started);
    r.refined = out.refined;
    return finish(self, m.id, caf::error{}, &r);
  }
  if (job.cancelled) return finish_cancelled(self, m.id);
  job.ready = true;
  job.waiting_since = ++self->state.clock;
}

// Starts the next step task unless one is in flight. (A cancelled job never waits here: the
// cancel ends a job with nothing in flight at once, and a task's reply ends one that had.)
void pump(self_ptr self, const stage_env& env) {
  auto& st = self->state;
  if (st.stepping) return;
  const std::vector<std::string> ids = next_batch(self, env);
  if (ids.empty()) return;
  env.fault("denoiser/actor");
  auto members = std::make_shared<std::vector<step_member>>();
  for (const auto& id : ids) {
    denoise_job& job = st.jobs.at(id);
    job.ready = false;
    job.in_flight = true;
    step_member m;
    m.id = id;
    m.state = job.state;
    m.handoff = job.handoff;
    m.preview_every = job.preview_every;
    members->push_back(std::move(m));
  }
  st.stepping = true;
  if (env.batch_stats) env.batch_stats->record(static_cast<int>(ids.size()));
  const auto model = members->front().handoff->model;
  run_on_device(
      self, env.thread, env.stage_timeout * static_cast<int64_t>(ids.size()), "denoiser",
      [env, model, members] {
        env.fault("denoiser");
        std::vector<DenoiseState*> states;
        for (auto& m : *members) states.push_back(m.state.get());
        denoise_step_batch(*model, states);
        for (auto& m : *members) after_step(env, m);
      },
      [self, env, members](const caf::error& err) {
        self->state.stepping = false;
        for (const auto& m : *members) {
          auto it = self->state.jobs.find(m.id);
          if (it == self->state.jobs.end()) continue;
          it->second.in_flight = false;
          if (err)
            finish(self, m.id, err);
          else
            job_stepped(self, env, m);
        }
        pump(self, env);
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
        if (env.job_budget >= 0) job.working_bytes = estimate_job_memory(*env.model, request, env.job_budget).denoiser_bytes;
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
        auto live_free = std::make_shared<int64_t>(-1);
        const int64_t working = job.working_bytes;
        run_on_device(
            self, env.thread, env.stage_timeout, "denoiser",
            [env, model, req, emb, state, names, handoff, live_free, working] {
              if (working > 0) *live_free = check_live_memory(env, *model, *req, working);
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
            [self, env, id, state, names, handoff, live_free](const caf::error& err) {
              if (*live_free >= 0) self->state.live_free = *live_free;
              auto it = self->state.jobs.find(id);
              if (it == self->state.jobs.end()) return;
              denoise_job& job = it->second;
              job.in_flight = false;
              if (err) return finish(self, id, err);
              if (job.cancelled) return finish_cancelled(self, id);
              job.total = static_cast<int>(state->total() + handoff->refiner_steps);
              job.scheduler = names->first;
              job.sampler_name = names->second;
              job.ready = true;
              job.waiting_since = ++self->state.clock;
              pump(self, env);
            });
        return rp;
      },
      [=](step_atom, const std::string&) { pump(self, env); },
      [=](cancel_atom, const std::string& id) {
        auto it = self->state.jobs.find(id);
        if (it == self->state.jobs.end()) return;
        it->second.cancelled = true;
        // With a step (or its preparation) in flight, the job stops when it returns; otherwise now.
        if (!it->second.in_flight) finish_cancelled(self, id);
      },
  };
}

}  // namespace sdw::actors
