// The job registry actor (see job_registry.h).
#include "actors/job_registry.h"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <cstdio>

#include "actors/device.h"
#include "actors/request_timeouts.h"
#include "actors/writer.h"

namespace sdw::actors {
namespace {

using self_ptr = registry_actor::stateful_pointer<registry_state>;
using std::chrono::milliseconds;

// A device takes the next job while its writer has fewer jobs than this (one being written, one
// waiting): the device runs ahead of its writer by at most one job.
constexpr size_t kMaxPendingWrites = 2;

// A device that has the model, runs no job and whose writer keeps up.
bool takes_jobs(const device_slot& d) { return d.ready && d.job.empty() && d.writing.size() < kMaxPendingWrites; }

double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string compute_status(const registry_state& st) {
  if (st.stopped) return "stopped";
  if (st.stopping) return "stopping";
  if (!st.ready) return st.failure.empty() ? "starting" : "failed";
  for (const auto& d : st.devices)
    if (takes_jobs(d)) return "ready";
  return "busy";
}

void update_status(self_ptr self) {
  auto& st = self->state;
  std::string s = compute_status(st);
  if (s == st.status) return;
  st.status = s;
  st.listeners->status(s);
}

std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  return buf;
}

// A job's lifecycle for the logs (and heartbeats' listeners); `in_stream` also appends it to the
// job's own events as a narration (event: narration in its SSE stream).
void narrate_job(self_ptr self, job_record& job, const std::string& action, const std::string& human,
                 const std::string& level, bool in_stream, const std::string& actor = "job_registry") {
  auto& st = self->state;
  LifecycleEvent le;
  le.level = level;
  le.actor = actor;
  le.action = action;
  le.target = job.id;
  le.human = human;
  le.job_id = job.id;
  le.correlation_id = job.spec.correlation_id;
  st.listeners->notify(std::move(le));
  if (!in_stream) return;
  JobEvent e;
  e.type = JobEvent::Type::narration;
  e.actor = actor;
  e.action = action;
  e.target = job.id;
  e.message = human;
  e.step = job.step;
  e.total = job.total;
  st.table->append(job, std::move(e));
}

// Makes sure a sweep runs at `when` (or earlier).
void schedule_sweep(self_ptr self, clock_type::time_point when) {
  auto& st = self->state;
  const auto now = clock_type::now();
  if (when >= st.next_sweep && st.next_sweep > now) return;
  st.next_sweep = when;
  const auto delay = std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(when - now) + milliseconds(1));
  self->delayed_send(self, delay, sweep_atom::value);
}

event_batch batch_from(const job_record& job, uint64_t from) {
  event_batch b;
  if (from < job.events.size()) b.events.assign(job.events.begin() + static_cast<std::ptrdiff_t>(from), job.events.end());
  b.finished = is_terminal(job.state);
  return b;
}

// Answers the parked long polls of `job` that now have something to read.
void deliver_polls(self_ptr self, const job_record& job) {
  auto& polls = self->state.polls;
  for (auto it = polls.begin(); it != polls.end();) {
    parked_poll& p = it->second;
    if (p.job == job.id && (p.from < job.events.size() || is_terminal(job.state))) {
      p.events.deliver(batch_from(job, p.from));
      it = polls.erase(it);
    } else {
      ++it;
    }
  }
}

void drop_evicted(self_ptr self, const std::vector<std::string>& dropped) {
  if (dropped.empty()) return;
  auto& polls = self->state.polls;
  for (auto it = polls.begin(); it != polls.end();) {
    if (!it->second.job.empty() && std::find(dropped.begin(), dropped.end(), it->second.job) != dropped.end()) {
      it->second.events.deliver(make_sd_error(sd_errc::not_found, "job " + it->second.job + " was dropped"));
      it = polls.erase(it);
    } else {
      ++it;
    }
  }
}

void evict(self_ptr self) {
  auto& st = self->state;
  drop_evicted(self, st.table->evict(clock_type::now()));
  if (auto next = st.table->next_expiry()) schedule_sweep(self, *next);
}

void dispatch(self_ptr self);

// Moves a job to a terminal state with its terminal event; a running job's device is told to stop.
void end_job(self_ptr self, job_record& job, JobState state, sd_errc code, const std::string& message,
             JobEvent terminal = {}) {
  auto& st = self->state;
  if (is_terminal(job.state)) return;
  const auto now = clock_type::now();
  const bool was_running = job.state == JobState::running;
  st.deadlines.erase({job.deadline, job.id});
  st.table->finish(job, state, now);
  const double elapsed = ms_between(was_running ? job.started : job.submitted, now);
  if (state == JobState::completed) {
    const size_t n = terminal.images.size();
    std::string size;
    if (n > 0) size = " " + std::to_string(terminal.images[0].width) + "x" + std::to_string(terminal.images[0].height);
    narrate_job(self, job, "job_completed",
                "Generated " + std::to_string(n) + (n == 1 ? " image" : " images") + size + " in " +
                    format_ms(elapsed) + " (encode " + format_ms(terminal.encode_ms) + ", denoise " +
                    format_ms(terminal.denoise_ms) + ", decode " + format_ms(terminal.decode_ms) + ", image encode " +
                    format_ms(terminal.image_encode_ms) + ")",
                "info", true);
  } else if (state == JobState::failed) {
    narrate_job(self, job, "job_failed", "Job failed (" + std::string(to_string(code)) + "): " + message, "error", true);
  } else {
    // The stream's own `cancelled` event is its narration.
    narrate_job(self, job, "job_cancelled", "Job cancelled: " + message, "warn", false);
  }
  if (state == JobState::completed) {
    terminal.type = JobEvent::Type::complete;
  } else {
    terminal.type = state == JobState::cancelled ? JobEvent::Type::cancelled : JobEvent::Type::error;
    terminal.message = message;
    terminal.error_code = to_string(code);
    job.error = message;
    job.error_code = to_string(code);
  }
  terminal.step = job.step;
  terminal.total = job.total;
  terminal.seed = job.spec.seed;
  if (terminal.elapsed_ms == 0) terminal.elapsed_ms = elapsed;
  st.table->append(job, std::move(terminal));
  if (was_running && state != JobState::completed && job.device >= 0 &&
      st.devices[static_cast<size_t>(job.device)].job == job.id)
    self->send(st.devices[static_cast<size_t>(job.device)].actor, cancel_atom::value, job.id);
  deliver_polls(self, job);
  evict(self);  // `job` may be gone from here on
  update_status(self);
}

// While shutting down: once no job runs (none on a device, none being written), the shutdown is
// over and its waiters are answered. Returns whether it is over.
bool finish_shutdown_if_idle(self_ptr self) {
  auto& st = self->state;
  if (!st.stopping || st.table->running() != 0) return false;
  for (auto& w : st.shutdown_waiters) w.deliver(ok_atom::value);
  st.shutdown_waiters.clear();
  st.stopped = true;
  return true;
}

// A device answered a run (or the run failed): the device is free again.
void device_done(self_ptr self, size_t slot, const std::string& id) {
  auto& st = self->state;
  if (slot < st.devices.size() && st.devices[slot].job == id) st.devices[slot].job.clear();
  finish_shutdown_if_idle(self);
  dispatch(self);
  update_status(self);
}

std::string writer_name(const device_slot& d) { return "the writer of " + d.name; }

// Spawns (or respawns) the writer of `slot`, monitored, ended with the registry.
void spawn_writer(self_ptr self, size_t slot) {
  auto& st = self->state;
  device_slot& d = st.devices[slot];
  writer_env env;
  env.device_name = d.name;
  env.fault_injection = st.cfg.fault_injection;
  d.writer = actors::spawn_writer(self->system(), env);
  self->monitor(d.writer);
  st.writer_handles->push_back(d.writer);
}

// The writer of `slot` went down (or answered as a crashed actor does): every job it had fails,
// a fresh writer takes its place.
void writer_down(self_ptr self, size_t slot, const std::string& reason) {
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
      end_job(self, *job, JobState::failed, sd_errc::internal,
              writer_name(d) + " crashed during the job (" + reason + "); it was restarted");
  finish_shutdown_if_idle(self);
  dispatch(self);
  update_status(self);
}

// A CAF error that means the writer itself failed (its handler threw, it was gone), not the
// encoding (an sd_errc error) nor a timeout.
bool writer_crashed(const caf::error& err) {
  return err.category() == caf::atom("system") && static_cast<caf::sec>(err.code()) != caf::sec::request_timeout;
}

// The writer answered (or failed) job `id`: the job completes with its files, or fails.
void write_done(self_ptr self, size_t slot, const std::string& id) {
  auto& st = self->state;
  st.devices[slot].writing.erase(id);
  finish_shutdown_if_idle(self);
  dispatch(self);
  update_status(self);
}

// The device ran job `job`: its writer turns the pixels into files while the device goes on.
void start_write(self_ptr self, size_t slot, job_record& job, job_result r) {
  auto& st = self->state;
  device_slot& d = st.devices[slot];
  const std::string id = job.id;
  d.writing.insert(id);
  std::vector<image_msg> images = std::move(r.images);
  r.images.clear();
  const caf::actor_addr writer = d.writer.address();
  auto handle = self->request(d.writer, st.cfg.stage_timeout, write_atom::value, id, r.format, std::move(images),
                              r.parameters);
  const caf::message_id rid = handle.id();
  handle.then(
      [self, slot, id, rid, r](write_result& written) {
        forget_timeout(self, rid);
        auto& st = self->state;
        if (job_record* job = st.table->find(id); job && job->state == JobState::running) {
          JobEvent e;
          for (auto& img : written.images) e.images.push_back(to_encoded_image(img));
          e.scheduler = r.scheduler;
          e.encode_ms = r.encode_ms;
          e.denoise_ms = r.denoise_ms;
          e.decode_ms = r.decode_ms;
          e.image_encode_ms = written.image_encode_ms;
          e.step = job->step = job->total;
          end_job(self, *job, JobState::completed, sd_errc::internal, "", std::move(e));
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
          const sd_errc code = error_code(err);
          std::string message = error_message(err);
          if (crashed)
            message = writer_name(d) + " went down during the job (" + message + ")";
          else if (code == sd_errc::timeout)
            message = writer_name(d) + " did not answer in time (" + message + ")";
          end_job(self, *job, JobState::failed, code, message);
        }
        write_done(self, slot, id);
      });
}

void start_job(self_ptr self, size_t slot, job_record& job) {
  auto& st = self->state;
  st.table->start(job, static_cast<int>(slot), clock_type::now());
  st.devices[slot].job = job.id;
  narrate_job(self, job, "job_started", "Job started on " + st.devices[slot].name, "info", false);
  deliver_polls(self, job);
  const std::string id = job.id;
  const auto timeout = st.cfg.stage_timeout * (job.spec.steps + 3);
  auto handle = self->request(st.devices[slot].actor, timeout, run_atom::value, job.spec);
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
              const sd_errc code = error_code(err);
              end_job(self, *job, code == sd_errc::cancelled ? JobState::cancelled : JobState::failed, code,
                      error_message(err));
            }
            device_done(self, slot, id);
          });
}

void dispatch(self_ptr self) {
  auto& st = self->state;
  if (st.stopping) return;
  for (size_t slot = 0; slot < st.devices.size() && st.table->queued() > 0; ++slot) {
    device_slot& d = st.devices[slot];
    if (!takes_jobs(d)) continue;
    while (auto id = st.table->pop_queued()) {
      job_record* job = st.table->find(*id);
      if (!job || job->state != JobState::queued) continue;
      start_job(self, slot, *job);
      break;
    }
  }
}

void sweep(self_ptr self) {
  auto& st = self->state;
  const auto now = clock_type::now();
  st.next_sweep = clock_type::time_point::max();
  while (!st.deadlines.empty() && st.deadlines.begin()->first <= now) {
    const std::string id = st.deadlines.begin()->second;
    st.deadlines.erase(st.deadlines.begin());
    if (job_record* job = st.table->find(id)) {
      const auto limit = std::chrono::duration_cast<milliseconds>(job->deadline - job->submitted).count();
      end_job(self, *job, JobState::failed, sd_errc::timeout,
              "timeout: the job exceeded its deadline of " + std::to_string(limit) + " ms");
    }
  }
  evict(self);
  if (!st.deadlines.empty()) schedule_sweep(self, st.deadlines.begin()->first);
}

bool has_free_device(const registry_state& st) { return std::any_of(st.devices.begin(), st.devices.end(), takes_jobs); }

// The queue holds jobs waiting for a device; with a device free a job does not wait.
bool queue_full(const registry_state& st) { return st.table->queue_full() && !has_free_device(st); }

bool serves(const registry_state& st, const std::string& name) {
  if (name.empty() || name == st.cfg.model || name == st.model.label) return true;
  return std::find(st.cfg.model_aliases.begin(), st.cfg.model_aliases.end(), name) != st.cfg.model_aliases.end();
}

caf::error not_ready_error(const registry_state& st) {
  if (!st.failure.empty()) return make_sd_error(sd_errc::not_ready, "the model failed to load: " + st.failure);
  return make_sd_error(sd_errc::not_ready, "the model is still loading");
}

// Every device loaded the model or failed to.
bool settled(const registry_state& st) {
  return std::all_of(st.devices.begin(), st.devices.end(),
                     [](const device_slot& d) { return d.ready || !d.failure.empty(); });
}

// Answers the readiness waits once every device has settled.
void answer_ready_waiters(self_ptr self) {
  auto& st = self->state;
  if (!settled(st)) return;
  for (auto it = st.polls.begin(); it != st.polls.end();) {
    if (it->second.job.empty()) {
      it->second.ready.deliver(st.ready);
      it = st.polls.erase(it);
    } else {
      ++it;
    }
  }
}

// A device could not be set up or could not load the model; with every device failed, the
// worker cannot become ready.
void device_failed(self_ptr self, size_t slot, const std::string& reason) {
  auto& st = self->state;
  st.devices[slot].failure = reason;
  st.listeners->narrate("device " + st.devices[slot].name, "device_failed", st.devices[slot].name, reason, "error");
  const bool all_failed =
      std::all_of(st.devices.begin(), st.devices.end(), [](const device_slot& d) { return !d.failure.empty(); });
  if (all_failed && !st.ready) st.failure = reason;
  answer_ready_waiters(self);
  update_status(self);
}

void load_device(self_ptr self, size_t slot) {
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
  dc.loader.model = cfg.model;
  dc.loader.dtype = parse_dtype_name(cfg.dtype);
  dc.loader.config_dir = cfg.model_config_dir;
  dc.loader.vae_file = cfg.vae_file;
  dc.loader.cuda_graphs = cfg.cuda_graphs;
  dc.loader.channels_last = cfg.channels_last;
  dc.loader.memory_budget_bytes = cfg.memory_budget_bytes;
  dc.loader.limits = cfg.limits;
  dc.loader.load_timeout = cfg.stage_timeout;
  dc.loader.resolve_model = cfg.resolve_model;
  dc.stage_timeout = cfg.stage_timeout;
  dc.full_vae_previews = cfg.full_vae_previews;
  dc.fault_injection = cfg.fault_injection;
  return dc;
}

void spawn_device(self_ptr self, size_t slot) {
  auto& st = self->state;
  device_slot& d = st.devices[slot];
  try {
    d.actor = self->spawn(device, make_device_config(st.cfg, d.name), caf::actor_cast<event_sink_actor>(self));
  } catch (const StageError& e) {
    device_failed(self, slot, e.what());
    return;
  }
  self->monitor(d.actor);
  st.device_handles->push_back(d.actor);
  load_device(self, slot);
}

void on_down(self_ptr self, const caf::down_msg& dm) {
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
    const std::string id = d.job;
    d.job.clear();
    d.ready = false;
    if (job_record* job = st.table->find(id))
      end_job(self, *job, JobState::failed, sd_errc::internal, "device " + d.name + " went down during the job");
    if (!st.stopping) spawn_device(self, slot);  // a fresh device reloads the model
    update_status(self);
  }
}

JobStatus status_of(const registry_state& st, const job_record& job) {
  JobStatus s;
  s.job_id = job.id;
  s.state = job.state;
  s.step = job.step;
  s.total = job.total;
  s.queue_position = st.table->queue_position(job.id);
  s.error = job.error;
  s.error_code = job.error_code;
  if (job.state == JobState::completed && !job.events.empty()) s.result = job.events.back();
  return s;
}

WorkerHealth health_of(const registry_state& st) {
  WorkerHealth h;
  h.status = st.status;
  h.ready = st.ready && !st.stopping;
  if (st.stopping)
    h.reason = "shutting down";
  else if (!st.failure.empty())
    h.reason = "the model failed to load: " + st.failure;
  else if (!st.ready)
    h.reason = "loading model '" + st.cfg.model + "'";
  h.queued = static_cast<int>(st.table->queued());
  h.running = static_cast<int>(st.table->running());
  h.jobs_completed = st.table->counts().completed;
  h.jobs_failed = st.table->counts().failed;
  h.jobs_cancelled = st.table->counts().cancelled;
  h.model = st.cfg.model;
  for (const auto& d : st.devices) h.device += (h.device.empty() ? "" : ",") + d.name;
  h.model_load_ms = st.model.load_ms;
  h.family = st.model.family;
  h.dtype = st.cfg.dtype;
  h.default_width = st.model.default_width;
  h.default_height = st.model.default_height;
  h.default_steps = st.model.default_steps;
  for (const auto& d : st.devices) {
    DeviceModelState ds;
    ds.device = d.name;
    ds.state = d.ready ? "ready" : (d.failure.empty() ? "loading" : "failed");
    ds.error = d.failure;
    ds.job = d.job;
    if (d.ready) {
      ds.weight_bytes = d.info.weight_bytes;
      ds.estimate_bytes = d.info.estimate_bytes;
      ds.available_bytes = d.info.available_bytes;
      ds.load_ms = d.info.load_ms;
    }
    h.devices.push_back(std::move(ds));
  }
  return h;
}

void begin_shutdown(self_ptr self) {
  auto& st = self->state;
  if (st.stopping) return;
  st.stopping = true;
  for (const std::string& id : st.table->queued_ids())
    if (job_record* job = st.table->find(id))
      end_job(self, *job, JobState::cancelled, sd_errc::shutting_down, "cancelled: the worker is shutting down");
  update_status(self);
}

}  // namespace

void status_listeners::add(std::function<void(const LifecycleEvent&)> fn) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& e : history_) fn(e);
  fns_.push_back(std::move(fn));
}

void status_listeners::notify(LifecycleEvent event) {
  if (event.emitted_at_ms == 0) event.emitted_at_ms = epoch_ms_now();
  // Under the lock, so that a listener being added sees each event exactly once.
  std::lock_guard<std::mutex> lock(mutex_);
  history_.push_back(event);
  if (history_.size() > kHistory) history_.pop_front();
  for (auto& fn : fns_) fn(event);
}

void status_listeners::status(const std::string& status) {
  LifecycleEvent e;
  e.kind = LifecycleEvent::Kind::status;
  e.status = status;
  e.actor = "worker";
  e.action = "status";
  e.target = status;
  e.level = status == "failed" ? "error" : "info";
  e.human = status == "failed" ? "The worker could not load its model and serves no jobs"
                               : "Worker status: " + status;
  notify(std::move(e));
}

void status_listeners::narrate(const std::string& actor, const std::string& action, const std::string& target,
                               const std::string& human, const std::string& level) {
  LifecycleEvent e;
  e.actor = actor;
  e.action = action;
  e.target = target;
  e.human = human;
  e.level = level;
  notify(std::move(e));
}

std::string new_job_id(std::mt19937_64& rng) {
  uint8_t b[16];
  for (int i = 0; i < 16; i += 8) {
    const uint64_t v = rng();
    for (int k = 0; k < 8; ++k) b[i + k] = static_cast<uint8_t>(v >> (8 * k));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return std::string("job-") + out;
}

registry_actor::behavior_type job_registry(registry_actor::stateful_pointer<registry_state> self, WorkerConfig cfg,
                                           std::shared_ptr<status_listeners> listeners) {
  auto& st = self->state;
  st.cfg = cfg;
  st.listeners = std::move(listeners);
  st.table = std::make_unique<job_table>(cfg.queue_capacity, cfg.max_finished_jobs, cfg.result_ttl);
  for (const std::string& name : cfg.devices) {
    st.devices.emplace_back();
    st.devices.back().name = name;
  }
  if (st.devices.empty()) st.failure = "no devices configured";
  for (size_t slot = 0; slot < st.devices.size(); ++slot) {
    spawn_writer(self, slot);
    spawn_device(self, slot);
  }
  update_status(self);
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  // The devices and writers end with the registry (a writer finishes the file it is writing).
  self->attach_functor([devices = st.device_handles, writers = st.writer_handles] {
    for (const auto& d : *devices) caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
    for (const auto& w : *writers) caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  });
  return {
      [=](submit_atom, job_spec& spec) -> caf::result<std::string> {
        auto& st = self->state;
        if (st.stopping) return make_sd_error(sd_errc::shutting_down, "the worker is shutting down");
        if (!st.ready) return not_ready_error(st);
        if (!serves(st, spec.model))
          return make_sd_error(sd_errc::model_not_found, "model '" + spec.model + "' is not served here (serving '" +
                                                             st.cfg.model + "')");
        if (queue_full(st))
          return make_sd_error(sd_errc::queue_full, "the queue is full (" + std::to_string(st.cfg.queue_capacity) +
                                                        " jobs waiting); retry later");
        if (spec.preview_every == 0) spec.preview_every = st.cfg.default_preview_every;
        spec.full_vae_previews = st.cfg.full_vae_previews;
        // Validation needs the model: ask a device (its loader) that has it.
        size_t slot = 0;
        while (slot < st.devices.size() && !st.devices[slot].ready) ++slot;
        if (slot == st.devices.size()) return not_ready_error(st);
        auto rp = self->make_response_promise<std::string>();
        auto handle = self->request(st.devices[slot].actor, st.cfg.request_timeout / 2, validate_atom::value, std::move(spec));
        const caf::message_id rid = handle.id();
        handle.then(
                [self, rp, rid](job_spec& valid) mutable {
                  forget_timeout(self, rid);
                  auto& st = self->state;
                  if (st.stopping) {
                    rp.deliver(make_sd_error(sd_errc::shutting_down, "the worker is shutting down"));
                    return;
                  }
                  if (queue_full(st)) {
                    rp.deliver(make_sd_error(sd_errc::queue_full, "the queue is full; retry later"));
                    return;
                  }
                  const std::string id = new_job_id(st.rng);
                  valid.job_id = id;
                  const auto now = clock_type::now();
                  const milliseconds limit = valid.deadline_ms > 0 ? milliseconds(valid.deadline_ms) : st.cfg.job_deadline;
                  const auto deadline = now + limit;
                  job_record& job = st.table->add(id, std::move(valid), now, deadline);
                  narrate_job(self, job, "job_queued",
                              "Job queued: " + std::to_string(job.spec.width) + "x" + std::to_string(job.spec.height) +
                                  ", " + std::to_string(job.spec.steps) + " steps (queue position " +
                                  std::to_string(st.table->queue_position(id)) + ")",
                              "info", false);
                  st.deadlines.insert({deadline, id});
                  schedule_sweep(self, deadline);
                  dispatch(self);
                  update_status(self);
                  rp.deliver(id);
                },
                [self, rp, rid](caf::error& err) mutable {
                  forget_timeout(self, rid);
                  rp.deliver(err);
                });
        return rp;
      },
      [=](subscribe_atom, const std::string& id) -> caf::result<ok_atom> {
        job_record* job = self->state.table->find(id);
        if (!job) return make_sd_error(sd_errc::not_found, "no job " + id);
        ++job->subscribers;
        return ok_atom::value;
      },
      [=](events_atom, const std::string& id, uint64_t from, int64_t wait_ms) -> caf::result<event_batch> {
        auto& st = self->state;
        job_record* job = st.table->find(id);
        if (!job) return make_sd_error(sd_errc::not_found, "no job " + id);
        if (from < job->events.size() || is_terminal(job->state) || wait_ms <= 0) return batch_from(*job, from);
        const uint64_t token = st.next_token++;
        parked_poll& p = st.polls[token];
        p.job = id;
        p.from = from;
        p.events = self->make_response_promise<event_batch>();
        self->delayed_send(self, milliseconds(wait_ms), expire_atom::value, token);
        return p.events;
      },
      [=](detach_atom, const std::string& id) {
        auto& st = self->state;
        job_record* job = st.table->find(id);
        if (!job || job->subscribers == 0) return;
        if (--job->subscribers == 0 && job->spec.cancel_on_disconnect && !is_terminal(job->state))
          end_job(self, *job, JobState::cancelled, sd_errc::cancelled, "cancelled: the client disconnected");
      },
      [=](cancel_atom, const std::string& id) -> caf::result<ok_atom> {
        auto& st = self->state;
        job_record* job = st.table->find(id);
        if (!job) return make_sd_error(sd_errc::not_found, "no job " + id);
        if (is_terminal(job->state))
          return make_sd_error(sd_errc::already_finished, "job " + id + " already " + to_string(job->state));
        end_job(self, *job, JobState::cancelled, sd_errc::cancelled, "cancelled by request");
        return ok_atom::value;
      },
      [=](status_atom, const std::string& id) -> caf::result<JobStatus> {
        const job_record* job = self->state.table->find(id);
        if (!job) return make_sd_error(sd_errc::not_found, "no job " + id);
        return status_of(self->state, *job);
      },
      [=](health_atom) -> caf::result<WorkerHealth> { return health_of(self->state); },
      [=](ready_atom, int64_t wait_ms) -> caf::result<bool> {
        auto& st = self->state;
        if (settled(st) || wait_ms <= 0) return st.ready;
        const uint64_t token = st.next_token++;
        parked_poll& p = st.polls[token];
        p.ready = self->make_response_promise<bool>();
        self->delayed_send(self, milliseconds(wait_ms), expire_atom::value, token);
        return p.ready;
      },
      [=](shutdown_atom, int64_t grace_ms) -> caf::result<ok_atom> {
        auto& st = self->state;
        begin_shutdown(self);
        auto rp = self->make_response_promise<ok_atom>();
        st.shutdown_waiters.push_back(rp);
        if (!finish_shutdown_if_idle(self))
          self->delayed_send(self, milliseconds(std::max<int64_t>(grace_ms, 0)), grace_atom::value);
        update_status(self);
        return rp;
      },
      [=](grace_atom) {
        // The grace period is over: cancel what still runs. Devices stop after their current step.
        auto& st = self->state;
        for (const std::string& id : st.table->running_ids())
          if (job_record* job = st.table->find(id))
            end_job(self, *job, JobState::cancelled, sd_errc::shutting_down,
                    "cancelled: the worker shut down before the job finished");
        finish_shutdown_if_idle(self);  // nothing runs any more
        update_status(self);
      },
      [=](progress_atom, const std::string& id, int32_t step, int32_t total, double) {
        auto& st = self->state;
        job_record* job = st.table->find(id);
        if (!job || job->state != JobState::running) return;
        job->step = step;
        job->total = total;
        JobEvent e;
        e.type = JobEvent::Type::progress;
        e.step = step;
        e.total = total;
        e.elapsed_ms = ms_between(job->started, clock_type::now());
        st.table->append(*job, std::move(e));
        deliver_polls(self, *job);
      },
      [=](preview_atom, const std::string& id, int32_t step, int32_t total, encoded_image_msg& image) {
        auto& st = self->state;
        job_record* job = st.table->find(id);
        if (!job || job->state != JobState::running) return;
        JobEvent e;
        e.type = JobEvent::Type::preview;
        e.step = step;
        e.total = total;
        e.elapsed_ms = ms_between(job->started, clock_type::now());
        e.images.push_back(to_encoded_image(image));
        st.table->append(*job, std::move(e));
        deliver_polls(self, *job);
      },
      [=](narrate_atom, const std::string& actor, const std::string& text) {
        const bool loader = actor == "loader";
        self->state.listeners->narrate(actor, loader ? "model_load" : "narration", loader ? self->state.cfg.model : actor,
                                       text);
      },
      [=](sweep_atom) { sweep(self); },
      [=](expire_atom, uint64_t token) {
        auto& st = self->state;
        auto it = st.polls.find(token);
        if (it == st.polls.end()) return;
        if (it->second.job.empty()) {
          it->second.ready.deliver(st.ready);
        } else if (const job_record* job = st.table->find(it->second.job)) {
          it->second.events.deliver(batch_from(*job, it->second.from));
        } else {
          it->second.events.deliver(make_sd_error(sd_errc::not_found, "no job " + it->second.job));
        }
        st.polls.erase(it);
      },
  };
}

}  // namespace sdw::actors
