// The job registry's jobs: queueing, a job's end (its terminal event, narration and the devices
// told), deadlines and the TTL sweep, status and health, shutdown (see registry_state.h).
#include <caf/send.hpp>

#include <algorithm>
#include <cstdio>

#include "actors/errors.h"
#include "actors/registry_state.h"

namespace sdw::actors {
namespace {

using std::chrono::milliseconds;

std::string compute_status(const registry_state& st) {
  if (st.stopped) return "stopped";
  if (st.stopping) return "stopping";
  if (!st.ready) return st.failure.empty() ? "starting" : "failed";
  for (const auto& d : st.devices)
    if (takes_jobs(d)) return "ready";
  return "busy";
}

}  // namespace

void update_status(registry_self self) {
  auto& st = self->state;
  std::string s = compute_status(st);
  if (s == st.status) return;
  st.status = s;
  st.listeners->status(s);
}

namespace {

std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  return buf;
}

}  // namespace

void narrate_job(registry_self self, job_record& job, const std::string& action, const std::string& human,
                 const std::string& level, bool in_stream, const std::string& actor) {
  auto& st = self->state;
  LifecycleEvent le;
  le.level = level;
  le.actor = actor;
  le.action = action;
  le.target = job.id;
  le.human = human;
  le.job_id = job.id;
  le.correlation_id = job.submission.correlation_id;
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

namespace {

// Makes sure a sweep runs at `when` (or earlier).
void schedule_sweep(registry_self self, clock_type::time_point when) {
  auto& st = self->state;
  const auto now = self->clock().now();
  if (when >= st.next_sweep && st.next_sweep > now) return;
  st.next_sweep = when;
  const auto delay = std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(when - now) + milliseconds(1));
  self->delayed_send(self, delay, sweep_atom::value);
}

void evict(registry_self self) {
  auto& st = self->state;
  st.table->evict(self->clock().now());
  if (auto next = st.table->next_expiry()) schedule_sweep(self, *next);
}

}  // namespace

std::string queue_job(registry_self self, JobSubmission submission, ResolvedRequest request) {
  auto& st = self->state;
  const auto now = self->clock().now();
  const milliseconds limit = submission.deadline ? *submission.deadline : st.cfg.job_deadline;
  const auto deadline = now + limit;
  job_record& job = st.table->add(st.table->new_id(), std::move(submission), std::move(request), now, deadline);
  const GenerationRequest& r = job.request.request;
  narrate_job(self, job, "job_queued",
              "Job queued: " + std::to_string(r.width) + "x" + std::to_string(r.height) + ", " +
                  std::to_string(r.steps) + " steps (queue position " + std::to_string(st.table->queue_position(job.id)) +
                  ")",
              "info", false);
  st.deadlines.insert({deadline, job.id});
  schedule_sweep(self, deadline);
  const std::string id = job.id;
  dispatch(self);
  update_status(self);
  return id;
}

void end_job(registry_self self, job_record& job, JobState state, WorkerErrc code, const std::string& message,
             JobEvent terminal) {
  auto& st = self->state;
  if (is_terminal(job.state)) return;
  const auto now = self->clock().now();
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
  terminal.seed = job.seed;
  if (terminal.elapsed_ms == 0) terminal.elapsed_ms = elapsed;
  st.table->append(job, std::move(terminal));
  if (was_running && state != JobState::completed && job.device >= 0 &&
      st.devices[static_cast<size_t>(job.device)].jobs.count(job.id))
    self->send(st.devices[static_cast<size_t>(job.device)].actor, cancel_atom::value, job.id);
  st.table->deliver_polls(job);
  evict(self);  // `job` may be gone from here on
  update_status(self);
}

bool finish_shutdown_if_idle(registry_self self) {
  auto& st = self->state;
  if (!st.stopping || st.table->running() != 0) return false;
  for (auto& w : st.shutdown_waiters) w.deliver(ok_atom::value);
  st.shutdown_waiters.clear();
  st.stopped = true;
  return true;
}

void sweep(registry_self self) {
  auto& st = self->state;
  const auto now = self->clock().now();
  st.next_sweep = clock_type::time_point::max();
  while (!st.deadlines.empty() && st.deadlines.begin()->first <= now) {
    const std::string id = st.deadlines.begin()->second;
    st.deadlines.erase(st.deadlines.begin());
    if (job_record* job = st.table->find(id)) {
      const auto limit = std::chrono::duration_cast<milliseconds>(job->deadline - job->submitted).count();
      end_job(self, *job, JobState::failed, WorkerErrc::timeout,
              "timeout: the job exceeded its deadline of " + std::to_string(limit) + " ms");
    }
  }
  evict(self);
  if (!st.deadlines.empty()) schedule_sweep(self, st.deadlines.begin()->first);
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
  h.text_width = st.model.text_width;
  h.text_width_2 = st.model.text_width_2;
  h.refiner = st.cfg.refiner;
  h.refiner_family = st.model.refiner_family;
  h.refiner_weight_bytes = st.model.refiner_weight_bytes;
  for (const auto& d : st.devices) {
    DeviceModelState ds;
    ds.device = d.name;
    ds.state = d.ready ? "ready" : (d.failure.empty() ? "loading" : "failed");
    ds.error = d.failure;
    ds.job = d.jobs.empty() ? std::string() : *d.jobs.begin();
    if (d.ready) {
      ds.weight_bytes = d.info.weight_bytes;
      ds.estimate_bytes = d.info.estimate_bytes;
      ds.available_bytes = d.info.available_bytes;
      ds.load_ms = d.info.load_ms;
      ds.controlnets = d.info.controlnets;
    }
    h.devices.push_back(std::move(ds));
  }
  return h;
}

void begin_shutdown(registry_self self) {
  auto& st = self->state;
  if (st.stopping) return;
  st.stopping = true;
  for (const std::string& id : st.table->queued_ids())
    if (job_record* job = st.table->find(id))
      end_job(self, *job, JobState::cancelled, WorkerErrc::shutting_down, "cancelled: the worker is shutting down");
  update_status(self);
}

}  // namespace sdw::actors
