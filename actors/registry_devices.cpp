// The job registry's devices: one slot per device (its actor, its writer, the job it runs),
// dispatching queued jobs to free devices, a finished run handed to the device's writer, model
// loading and readiness, and the supervision of devices and writers (see registry_state.h).
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <algorithm>

#include "actors/device.h"
#include "actors/errors.h"
#include "actors/registry_state.h"
#include "actors/request_timeouts.h"
#include "actors/writer.h"

namespace sdw::actors {
namespace {

// A device takes the next job while its writer has fewer jobs than this (one being written, one
// waiting): the device runs ahead of its writer by at most one job.
constexpr size_t kMaxPendingWrites = 2;

}  // namespace

bool takes_jobs(const device_slot& d) {
  return d.ready && static_cast<int>(d.jobs.size()) < d.capacity && d.writing.size() < kMaxPendingWrites;
}

std::string co_run_key(const job_record& job) {
  std::string key;
  for (const LoraUse& l : job.loras)
    key += l.path + '\x1f' + std::to_string(l.strength) + (l.ignore_unmatched ? "!" : "") + '\x1e';
  return key;
}

int device_capacity(const WorkerConfig& cfg, const std::string& device) {
  if (cfg.max_batch > 0) return cfg.max_batch;
  return device.rfind("cuda", 0) == 0 ? 4 : 1;
}

namespace {


// A device answered a run (or the run failed): the device is free again.
void device_done(registry_self self, size_t slot, const std::string& id) {
  auto& st = self->state;
  if (slot < st.devices.size()) st.devices[slot].jobs.erase(id);
  finish_shutdown_if_idle(self);
  dispatch(self);
  update_status(self);
}

std::string writer_name(const device_slot& d) { return "the writer of " + d.name; }

// Spawns (or respawns) the writer of `slot`, monitored, ended with the registry.
void spawn_writer(registry_self self, size_t slot) {
  auto& st = self->state;
  device_slot& d = st.devices[slot];
  writer_env env;
  env.device_name = d.name;
  env.fault_injection = st.cfg.fault_injection;
  env.own_thread = st.cfg.own_threads;
  d.writer = actors::spawn_writer(self->system(), env);
  self->monitor(d.writer);
  st.writer_handles->push_back(d.writer);
}

// The writer of `slot` went down (or answered as a crashed actor does): every job it had fails,
// a fresh writer takes its place.
void writer_down(registry_self self, size_t slot, const std::string& reason) {
  auto& st = self->state;
  device_slot& d = st.devices[slot];
  st.listeners->narrate("writer " + d.name, "writer_down", d.name,
                        writer_name(d) + " went down (" + reason + "); restarting it", "error");
  caf::anon_send_exit(d.writer, caf::exit_reason::user_shutdown);  // in case it still runs
  spawn_writer(self, slot);
  std::set<std::string> had;
  had.swap(d.writing);
  for (const std::string& id : had)
    if (job_record* job = st.table->find(id); job && job->state == JobState::running)
      end_job(self, *job, JobState::failed, WorkerErrc::internal,
              writer_name(d) + " crashed during the job (" + reason + "); it was restarted");
  finish_shutdown_if_idle(self);
  dispatch(self);
  update_status(self);
}

// A CAF error that means the writer itself failed (its handler threw, it was gone), not the
// encoding (an WorkerErrc error) nor a timeout.
bool writer_crashed(const caf::error& err) {
  return err.category() == caf::atom("system") && static_cast<caf::sec>(err.code()) != caf::sec::request_timeout;
}

// The writer answered (or failed) job `id`: the job completes with its files, or fails.
void write_done(registry_self self, size_t slot, const std::string& id) {
  auto& st = self->state;
  st.devices[slot].writing.erase(id);
  finish_shutdown_if_idle(self);
  dispatch(self);
  update_status(self);
}

// The device ran job `job`: its writer turns the pixels into files while the device goes on.
void start_write(registry_self self, size_t slot, job_record& job, job_result r) {
  auto& st = self->state;
  device_slot& d = st.devices[slot];
  const std::string id = job.id;
  d.writing.insert(id);
  std::vector<Image> images = std::move(r.images);
  r.images.clear();
  const caf::actor_addr writer = d.writer.address();
  auto handle = self->request(d.writer, st.cfg.stage_timeout, write_atom::value, id, job.submission.output,
                              std::move(images), r.parameters);
  const caf::message_id rid = handle.id();
  handle.then(
      [self, slot, id, rid, r](write_result& written) {
        forget_timeout(self, rid);
        auto& st = self->state;
        if (job_record* job = st.table->find(id); job && job->state == JobState::running) {
          JobEvent e;
          e.images = std::move(written.images);
          e.scheduler = r.scheduler;
          e.loras = job->loras;
          e.encode_ms = r.encode_ms;
          e.denoise_ms = r.denoise_ms;
          e.decode_ms = r.decode_ms;
          e.image_encode_ms = written.image_encode_ms;
          e.step = job->step = job->total;
          end_job(self, *job, JobState::completed, WorkerErrc::internal, "", std::move(e));
        }
        write_done(self, slot, id);
      },
      [self, slot, id, rid, writer](caf::error& err) {
        forget_timeout(self, rid);
        auto& st = self->state;
        device_slot& d = st.devices[slot];
        const bool crashed = writer_crashed(err);
        if (crashed && d.writer.address() == writer) writer_down(self, slot, error_message(err));
        if (job_record* job = st.table->find(id); job && job->state == JobState::running) {
          const WorkerErrc code = error_code(err);
          std::string message = error_message(err);
          if (crashed)
            message = writer_name(d) + " went down during the job (" + message + ")";
          else if (code == WorkerErrc::timeout)
            message = writer_name(d) + " did not answer in time (" + message + ")";
          end_job(self, *job, JobState::failed, code, message);
        }
        write_done(self, slot, id);
      });
}

void start_job(registry_self self, size_t slot, job_record& job) {
  auto& st = self->state;
  st.table->start(job, static_cast<int>(slot), self->clock().now());
  if (st.devices[slot].jobs.empty()) st.devices[slot].co_run_key = co_run_key(job);
  st.devices[slot].jobs.insert(job.id);
  narrate_job(self, job, "job_started", "Job started on " + st.devices[slot].name, "info", false);
  st.table->deliver_polls(job);
  const std::string id = job.id;
  // Jobs sharing the device share its steps: each may take up to `capacity` times as long.
  const auto timeout = st.cfg.stage_timeout * (job.request.request.steps + 3) * st.devices[slot].capacity;
  // The request (with its pixels) moves to the device; the record keeps the job's options.
  auto handle = self->request(st.devices[slot].actor, timeout, run_atom::value, id, std::move(job.request),
                              int32_t{job.submission.preview_every});
  const caf::message_id rid = handle.id();
  handle.then(
          [self, slot, id, rid](job_result& r) {
            forget_timeout(self, rid);
            auto& st = self->state;
            // The device is done with the job; it stays `running` until its writer answers.
            if (job_record* job = st.table->find(id); job && job->state == JobState::running)
              start_write(self, slot, *job, std::move(r));
            device_done(self, slot, id);
          },
          [self, slot, id, rid](caf::error& err) {
            forget_timeout(self, rid);
            auto& st = self->state;
            if (job_record* job = st.table->find(id); job && job->state == JobState::running) {
              const WorkerErrc code = error_code(err);
              end_job(self, *job, code == WorkerErrc::cancelled ? JobState::cancelled : JobState::failed, code,
                      error_message(err));
            }
            device_done(self, slot, id);
          });
}

}  // namespace

void dispatch(registry_self self) {
  auto& st = self->state;
  if (st.stopping) return;
  // First every idle device takes one job, then devices with room take more (continuous
  // batching): queued jobs in order while the device takes them; a busy device takes only jobs
  // that may run beside its own (the same LoRAs), so the queue's head waits for one that can.
  for (const bool idle_pass : {true, false}) {
    for (size_t slot = 0; slot < st.devices.size() && st.table->queued() > 0; ++slot) {
      device_slot& d = st.devices[slot];
      if (idle_pass && !d.jobs.empty()) continue;
      while (takes_jobs(d)) {
        const auto head = st.table->front_queued();
        if (!head) break;
        job_record* job = st.table->find(*head);
        if (!job || job->state != JobState::queued) {
          st.table->pop_queued();
          continue;
        }
        if (!d.jobs.empty() && co_run_key(*job) != d.co_run_key) break;
        st.table->pop_queued();
        start_job(self, slot, *job);
        if (idle_pass) break;
      }
    }
  }
}

namespace {

bool has_free_device(const registry_state& st) { return std::any_of(st.devices.begin(), st.devices.end(), takes_jobs); }

}  // namespace

// The queue holds jobs waiting for a device; with a device free a job does not wait.
bool queue_full(const registry_state& st) { return st.table->queue_full() && !has_free_device(st); }

caf::error not_ready_error(const registry_state& st) {
  if (!st.failure.empty()) return make_sd_error(WorkerErrc::not_ready, "the model failed to load: " + st.failure);
  return make_sd_error(WorkerErrc::not_ready, "the model is still loading");
}

bool settled(const registry_state& st) {
  return std::all_of(st.devices.begin(), st.devices.end(),
                     [](const device_slot& d) { return d.ready || !d.failure.empty(); });
}

namespace {

// Answers the readiness waits once every device has settled.
void answer_ready_waiters(registry_self self) {
  auto& st = self->state;
  if (!settled(st)) return;
  for (auto& [token, wait] : st.ready_waits) wait.deliver(st.ready);
  st.ready_waits.clear();
}

// A device could not be set up or could not load the model; with every device failed, the
// worker cannot become ready.
void device_failed(registry_self self, size_t slot, const std::string& reason) {
  auto& st = self->state;
  st.devices[slot].failure = reason;
  st.listeners->narrate("device " + st.devices[slot].name, "device_failed", st.devices[slot].name, reason, "error");
  const bool all_failed =
      std::all_of(st.devices.begin(), st.devices.end(), [](const device_slot& d) { return !d.failure.empty(); });
  if (all_failed && !st.ready) st.failure = reason;
  answer_ready_waiters(self);
  update_status(self);
}

void load_device(registry_self self, size_t slot) {
  auto& st = self->state;
  self->request(st.devices[slot].actor, st.cfg.stage_timeout, load_atom::value)
      .then(
          [self, slot](model_info& info) {
            auto& st = self->state;
            st.devices[slot].ready = true;
            st.devices[slot].failure.clear();
            st.devices[slot].info = info;
            if (!st.ready) {
              st.ready = true;
              st.model = info;
              st.served.label = info.label;
              st.failure.clear();
            }
            answer_ready_waiters(self);
            dispatch(self);
            update_status(self);
          },
          [self, slot](caf::error& err) { device_failed(self, slot, error_message(err)); });
}

device_config make_device_config(const WorkerConfig& cfg, const std::string& name) {
  device_config dc;
  dc.name = name;
  dc.device = parse_device_name(name);
  apply_load_settings(cfg, dc.loader);
  dc.loader.limits = cfg.limits;
  dc.loader.load_timeout = cfg.stage_timeout;
  dc.loader.resolve_model = cfg.resolve_model;
  dc.stage_timeout = cfg.stage_timeout;
  dc.full_vae_previews = cfg.full_vae_previews;
  dc.fault_injection = cfg.fault_injection;
  dc.refiner = cfg.refiner;
  dc.own_thread = cfg.own_threads;
  if (cfg.remote.any()) dc.remote = std::make_shared<const RemoteStagesConfig>(cfg.remote);
  dc.remote_status = cfg.remote_status;
  dc.max_jobs = device_capacity(cfg, name);
  dc.batch_stats = cfg.batch_stats;
  return dc;
}

void spawn_device(registry_self self, size_t slot) {
  auto& st = self->state;
  device_slot& d = st.devices[slot];
  try {
    d.actor = self->spawn(device, make_device_config(st.cfg, d.name), caf::actor_cast<event_sink_actor>(self));
  } catch (const WorkerError& e) {
    device_failed(self, slot, e.what());
    return;
  }
  self->monitor(d.actor);
  st.device_handles->push_back(d.actor);
  load_device(self, slot);
}

}  // namespace

void on_down(registry_self self, const caf::down_msg& dm) {
  auto& st = self->state;
  for (size_t slot = 0; slot < st.devices.size(); ++slot) {
    if (st.devices[slot].writer && st.devices[slot].writer.address() == dm.source) {
      writer_down(self, slot, caf::to_string(dm.reason));
      return;
    }
  }
  for (size_t slot = 0; slot < st.devices.size(); ++slot) {
    device_slot& d = st.devices[slot];
    if (!d.actor || d.actor.address() != dm.source) continue;
    st.listeners->narrate("device " + d.name, "device_down", d.name, "Device " + d.name + " went down (" + caf::to_string(dm.reason) + "); restarting it", "error");
    const std::set<std::string> ids = std::move(d.jobs);
    d.jobs.clear();
    d.ready = false;
    for (const std::string& id : ids)
      if (job_record* job = st.table->find(id))
        end_job(self, *job, JobState::failed, WorkerErrc::internal, "device " + d.name + " went down during the job");
    if (!st.stopping) spawn_device(self, slot);  // a fresh device reloads the model
    update_status(self);
  }
}

void start_devices(registry_self self) {
  auto& st = self->state;
  for (const std::string& name : st.cfg.devices) {
    st.devices.emplace_back();
    st.devices.back().name = name;
    st.devices.back().capacity = device_capacity(st.cfg, name);
  }
  if (st.devices.empty()) st.failure = "no devices configured";
  for (size_t slot = 0; slot < st.devices.size(); ++slot) {
    spawn_writer(self, slot);
    spawn_device(self, slot);
  }
}

}  // namespace sdw::actors
