// The device actor (see device.h).
#include "actors/device.h"

#include <algorithm>
#include <vector>

#include "model/image/image_io.h"
#include "model/nn/device_names.h"
#include "model/pipeline/hires_fix.h"
#include "model/pipeline/refiner.h"

#include "actors/request_timeouts.h"

#include <ATen/Context.h>
#include <caf/send.hpp>

namespace sdw::actors {
namespace {

using self_ptr = device_actor::stateful_pointer<device_state>;

// The job's error as its requester should see it: a stage that went down is named.
caf::error explain(const caf::error& err, stage_kind stage) {
  if (err.category() == caf::atom("system") && static_cast<caf::sec>(err.code()) == caf::sec::request_receiver_down)
    return make_sd_error(WorkerErrc::internal, std::string("the ") + to_string(stage) + " stage went down during the job");
  return err;
}

device_job* find_job(self_ptr self, const std::string& id) {
  auto it = self->state.jobs.find(id);
  return it == self->state.jobs.end() ? nullptr : &it->second;
}

void fail(self_ptr self, const std::string& id, const caf::error& err) {
  auto it = self->state.jobs.find(id);
  if (it == self->state.jobs.end()) return;
  it->second.promise.deliver(err);
  self->state.jobs.erase(it);
}

// Fails every job in `stage` (every job: none) with `err`.
void fail_all(self_ptr self, const caf::error& err, const stage_kind* stage = nullptr) {
  std::vector<std::string> ids;
  for (const auto& [id, job] : self->state.jobs)
    if (!stage || job.stage == *stage) ids.push_back(id);
  for (const auto& id : ids) fail(self, id, err);
}

bool stop_if_cancelled(self_ptr self, device_job& job) {
  if (!job.cancelled) return false;
  fail(self, job.id, make_sd_error(WorkerErrc::cancelled, "cancelled before the " + std::string(to_string(job.stage)) + " stage"));
  return true;
}

// Asks stage `stage` of job `job` for a `Reply`; `next(job, reply)` runs once it answers, unless the
// job was cancelled meanwhile. An error (or the stage going down) fails the job.
template <class Reply, class Handle, class Next, class... Ts>
void ask_stage(self_ptr self, device_job& job, stage_kind stage, const Handle& actor, std::chrono::milliseconds timeout,
               Next next, Ts&&... xs) {
  job.stage = stage;
  const std::string id = job.id;
  auto handle = self->request(actor, timeout, std::forward<Ts>(xs)...);
  const caf::message_id rid = handle.id();
  handle.then(
      [self, id, rid, next](Reply& reply) mutable {
        forget_timeout(self, rid);
        device_job* job = find_job(self, id);
        if (!job || stop_if_cancelled(self, *job)) return;
        next(*job, std::move(reply));
      },
      [self, id, rid, stage](caf::error& err) {
        forget_timeout(self, rid);
        fail(self, id, explain(err, stage));
      });
}

// The job's request with its images, for the denoiser (the one stage that reads them); the job
// keeps it without them for the decoder. Pixels are moved, not copied.
ResolvedRequest take_images(device_job& job) {
  ResolvedRequest with_images = std::move(job.request);
  job.request = without_images(with_images);
  return with_images;
}

// A job through its stages: encode -> denoise -> decode -> the reply with the pixels.
void run_stages(self_ptr self, device_job& job) {
  const stage_set& stages = self->state.kids->stages;
  const auto timeout = self->state.cfg.stage_timeout;
  ask_stage<embeddings_msg>(self, job, stage_kind::encoder, stages.encoder, timeout, [self, timeout](device_job& job, embeddings_msg emb) {
    job.result.encode_ms = emb.encode_ms;
    // A refiner hand-off runs up to `steps` more steps on the refiner, after its prompt encoding.
    // Hires fix: a second pass of up to steps / strength steps at a larger size.
    const int factor = job.request.request.hires ? 8 : job.request.request.refiner_start ? 2 : 1;
    const auto denoise_timeout = timeout * factor * (job.request.request.steps + 1);
    // With other jobs on the device, their steps share the denoiser (and its batches).
    const auto denoise_timeout_shared = denoise_timeout * static_cast<int64_t>(std::max<size_t>(1, self->state.jobs.size()));
    ask_stage<denoise_result>(self, job, stage_kind::denoiser, self->state.kids->stages.denoiser, denoise_timeout_shared, [self, timeout](device_job& job, denoise_result denoised) {
      job.result.denoise_ms = denoised.denoise_ms;
      job.result.scheduler = denoised.scheduler;
      ask_stage<decode_result>(self, job, stage_kind::decoder, self->state.kids->stages.decoder, timeout, [self](device_job& job, decode_result decoded) {
        job.result.decode_ms = decoded.decode_ms;
        job.result.images = std::move(decoded.images);
        job.result.parameters = std::move(decoded.parameters);
        job.result.seed = job.request.seed;
        const std::string id = job.id;
        job.promise.deliver(std::move(job.result));
        self->state.jobs.erase(id);
      }, decode_atom::value, job.request, std::move(denoised));
    }, denoise_atom::value, job.id, take_images(job), job.preview_every, std::move(emb));
  }, encode_atom::value, without_images(job.request));
}

// The model's loader, or (`refiner`) the refiner's: the same settings for the refiner's folder,
// without the model's single-file extras.
loader_actor spawn_loader(self_ptr self, std::shared_ptr<SdModel> preloaded, bool refiner = false) {
  auto& st = self->state;
  loader_config lc = st.cfg.loader;
  if (refiner) {
    lc.model = st.cfg.refiner;
    lc.config_dir.clear();
    lc.vae_file.clear();
    lc.controlnets.clear();  // the served ControlNets go with the base model
  }
  lc.device_name = st.cfg.name;
  lc.device = st.cfg.device;
  lc.thread = st.kids->thread;
  lc.events = st.env.events;
  lc.fault_injection = st.cfg.fault_injection;
  lc.preloaded = std::move(preloaded);
  auto l = self->spawn(loader, lc);
  self->monitor(l);
  return l;
}

void narrate(self_ptr self, const std::string& text) {
  self->send(self->state.env.events, narrate_atom::value, "device " + self->state.cfg.name, text);
}

void on_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  const std::string reason = caf::to_string(dm.reason);
  if (const stage_kind* kind = st.kids->stages.which(dm.source)) {
    const stage_kind k = *kind;
    ++st.restarts;
    narrate(self, std::string("the ") + to_string(k) + " stage went down (" + reason + "); restarting it");
    fail_all(self, make_sd_error(WorkerErrc::internal, std::string("the ") + to_string(k) + " stage crashed during the job (" +
                                                        reason + "); it was restarted"), &k);
    self->monitor(respawn_stage(self->system(), st.kids->stages, k, st.env));
    return;
  }
  if (st.kids->refiner_loader && dm.source == st.kids->refiner_loader.address()) {
    ++st.restarts;
    narrate(self, "the refiner's loader went down (" + reason + "); restarting it");
    st.kids->refiner_loader = spawn_loader(self, st.env.refiner, true);
    return;
  }
  if (st.kids->loader && dm.source == st.kids->loader.address()) {
    ++st.restarts;
    narrate(self, "the loader went down (" + reason + "); restarting it");
    st.kids->loader = spawn_loader(self, st.env.model);
    return;
  }
  if (st.kids->thread && dm.source == st.kids->thread.address()) {
    // The device thread catches every task's exception; it goes down only with the device.
    narrate(self, "the device thread went down (" + reason + ")");
    fail_all(self, make_sd_error(WorkerErrc::internal, "the device thread of " + st.cfg.name + " went down"));
    self->quit(dm.reason);
  }
}

using info_promise = caf::typed_response_promise<model_info>;

// Hands the loaded model (and refiner) to freshly spawned stages, unless they are up already.
void start_stages(self_ptr self, info_promise rp, model_info info) {
  auto& st = self->state;
  if (st.kids->stages.up()) return rp.deliver(std::move(info)), void();
  self->request(st.kids->loader, st.cfg.stage_timeout, acquire_atom::value)
      .then(
          [self, rp, info](model_handle& h) mutable {
            auto spawn = [self, rp, info, h](std::shared_ptr<SdModel> refiner) mutable {
              auto& st = self->state;
              if (!st.kids->stages.up()) {
                st.env.model = h.model;
                st.env.model_label = h.label;
                st.env.job_budget = h.job_budget;
                st.env.refiner = std::move(refiner);
                st.kids->stages = spawn_stages(self->system(), st.env);
                self->monitor(st.kids->stages.encoder);
                self->monitor(st.kids->stages.denoiser);
                self->monitor(st.kids->stages.decoder);
              }
              rp.deliver(std::move(info));
            };
            auto& st = self->state;
            if (!st.kids->refiner_loader) return spawn(nullptr);
            self->request(st.kids->refiner_loader, st.cfg.stage_timeout, acquire_atom::value)
                .then([spawn](model_handle& r) mutable { spawn(r.model); },
                      [rp](caf::error& err) mutable { rp.deliver(err); });
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
}

// Loads the model, then the refiner (serve --refiner), then starts the stages.
void load_models(self_ptr self, info_promise rp) {
  auto& st = self->state;
  self->request(st.kids->loader, st.cfg.loader.load_timeout, load_atom::value)
      .then(
          [self, rp](model_info& info) mutable {
            auto& st = self->state;
            if (!st.kids->refiner_loader) return start_stages(self, rp, std::move(info));
            self->request(st.kids->refiner_loader, st.cfg.loader.load_timeout, load_atom::value)
                .then(
                    [self, rp, info](model_info& r) mutable {
                      info.refiner_name = r.name;
                      info.refiner_label = r.label;
                      info.refiner_family = r.family;
                      info.refiner_weight_bytes = r.weight_bytes;
                      start_stages(self, rp, std::move(info));
                    },
                    [rp](caf::error& err) mutable { rp.deliver(err); });
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
}

// A base + refiner job's base request (resolve_handoff), checked against both models.
caf::result<ResolvedRequest> validate_handoff(self_ptr self, GenerationRequest request) {
  auto& st = self->state;
  if (!st.env.model || !st.env.refiner)
    return make_sd_error(WorkerErrc::invalid_request, "this worker serves no refiner (serve --refiner MODEL)");
  try {
    const double start = *request.refiner_start;
    return resolve_handoff(*st.env.model, *st.env.refiner, std::move(request), start, st.cfg.loader.limits).base;
  } catch (const ImageError& e) {
    return make_sd_error(WorkerErrc::invalid_request, e.what());
  } catch (...) {
    return classify_exception(std::current_exception(), "validation");
  }
}

// A hires fix job's first-pass request (resolve_hires), its second pass checked too.
caf::result<ResolvedRequest> validate_hires(self_ptr self, GenerationRequest request) {
  auto& st = self->state;
  if (!st.env.model) return make_sd_error(WorkerErrc::not_ready, "the model is not loaded on " + st.cfg.name);
  try {
    return resolve_hires(*st.env.model, std::move(request), st.cfg.loader.limits).first;
  } catch (const ImageError& e) {
    return make_sd_error(WorkerErrc::invalid_request, e.what());
  } catch (...) {
    return classify_exception(std::current_exception(), "validation");
  }
}

}  // namespace

at::Device parse_device_name(const std::string& text) {
  try {
    return parse_device(text);
  } catch (const std::invalid_argument& e) {
    throw WorkerError(WorkerErrc::invalid_request, e.what());
  }
}

DtypeChoice parse_dtype_name(const std::string& text) {
  try {
    return parse_dtype_choice(text);
  } catch (const std::invalid_argument& e) {
    throw WorkerError(WorkerErrc::invalid_request, e.what());
  }
}

device_actor::behavior_type device(device_actor::stateful_pointer<device_state> self, device_config cfg,
                                   event_sink_actor events) {
  auto& st = self->state;
  st.cfg = cfg;
  st.kids->thread = spawn_device_thread(self->system(), cfg.name, cfg.own_thread);
  self->monitor(st.kids->thread);
  st.env.device_name = cfg.name;
  st.env.thread = st.kids->thread;
  st.env.events = events;
  st.env.stage_timeout = cfg.stage_timeout;
  st.env.full_vae_previews = cfg.full_vae_previews;
  st.env.fault_injection = cfg.fault_injection;
  st.env.limits = cfg.loader.limits;
  st.env.remote = cfg.remote;
  st.env.remote_status = cfg.remote_status;
  st.env.max_batch = cfg.max_jobs;
  st.env.batch_stats = cfg.batch_stats;
  st.kids->loader = spawn_loader(self, nullptr);
  if (!cfg.refiner.empty()) {
    st.kids->refiner_loader = spawn_loader(self, nullptr, true);
  }
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  // The device's actors end with it.
  auto kids = st.kids;
  self->attach_functor([kids] {
    caf::anon_send_exit(kids->stages.encoder, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(kids->stages.denoiser, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(kids->stages.decoder, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(kids->loader, caf::exit_reason::user_shutdown);
    if (kids->refiner_loader) caf::anon_send_exit(kids->refiner_loader, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(kids->thread, caf::exit_reason::user_shutdown);
  });
  return {
      [=](load_atom) -> caf::result<model_info> {
        auto rp = self->make_response_promise<model_info>();
        load_models(self, rp);
        return rp;
      },
      [=](validate_atom, GenerationRequest& request) -> caf::result<ResolvedRequest> {
        if (request.refiner_start) return validate_handoff(self, std::move(request));
        if (request.hires) return validate_hires(self, std::move(request));
        return self->delegate(self->state.kids->loader, validate_atom::value, std::move(request));
      },
      [=](run_atom, std::string& id, ResolvedRequest& request, int32_t preview_every) -> caf::result<job_result> {
        auto& st = self->state;
        if (static_cast<int>(st.jobs.size()) >= std::max(1, st.cfg.max_jobs))
          return make_sd_error(WorkerErrc::internal, "device " + st.cfg.name + " is busy with " + st.jobs.begin()->first);
        if (st.jobs.count(id)) return make_sd_error(WorkerErrc::internal, "device " + st.cfg.name + " already runs " + id);
        if (!st.kids->stages.up()) return make_sd_error(WorkerErrc::not_ready, "the model is not loaded on " + st.cfg.name);
        device_job& job = st.jobs[id];
        job.id = std::move(id);
        job.request = std::move(request);
        job.preview_every = preview_every;
        job.promise = self->make_response_promise<job_result>();
        auto rp = job.promise;
        run_stages(self, job);
        return rp;
      },
      [=](cancel_atom, const std::string& id) {
        device_job* job = find_job(self, id);
        if (!job) return;
        job->cancelled = true;
        if (job->stage == stage_kind::denoiser) self->send(self->state.kids->stages.denoiser, cancel_atom::value, id);
      },
  };
}

}  // namespace sdw::actors
