// The job registry actor's behaviour: each message mapped to the registry's units (see
// job_registry.h, registry_state.h).
#include "actors/job_registry.h"

#include <caf/send.hpp>

#include "actors/errors.h"
#include "actors/registry_state.h"
#include "actors/request_timeouts.h"

namespace sdw::actors {

using std::chrono::milliseconds;

registry_actor::behavior_type job_registry(registry_actor::stateful_pointer<registry_state> self, WorkerConfig cfg,
                                           std::shared_ptr<status_listeners> listeners) {
  auto& st = self->state;
  st.cfg = cfg;
  st.served = ServedModel{cfg.model, cfg.model_aliases, ""};
  st.listeners = std::move(listeners);
  st.table = std::make_unique<job_table>(cfg.queue_capacity, cfg.max_finished_jobs, cfg.result_ttl,
                                         cfg.max_finished_bytes);
  start_devices(self);
  update_status(self);
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  // The devices and writers end with the registry (a writer finishes the file it is writing).
  self->attach_functor([devices = st.device_handles, writers = st.writer_handles] {
    for (const auto& d : *devices) caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
    for (const auto& w : *writers) caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  });
  return {
      [=](submit_atom, JobSubmission& job) -> caf::result<std::string> {
        auto& st = self->state;
        if (st.stopping) return make_sd_error(WorkerErrc::shutting_down, "the worker is shutting down");
        if (!st.ready) return not_ready_error(st);
        if (!job.model.empty() && !st.served.accepts(job.model))
          return make_sd_error(WorkerErrc::model_not_found, "model '" + job.model + "' is not served here (serving '" +
                                                                st.cfg.model + "')");
        if (job.request.refiner_start && job.refiner.empty())
          return make_sd_error(WorkerErrc::invalid_request, "refiner_start needs a refiner");
        if (!job.refiner.empty()) {
          if (st.cfg.refiner.empty())
            return make_sd_error(WorkerErrc::invalid_request, "refiner '" + job.refiner +
                                                                  "' asked for, but this worker serves no refiner (serve --refiner MODEL)");
          if (!ServedModel{st.cfg.refiner, {}, st.model.refiner_label}.accepts(job.refiner))
            return make_sd_error(WorkerErrc::model_not_found, "refiner '" + job.refiner + "' is not served here (refiner: '" +
                                                                  st.cfg.refiner + "')");
          if (!job.request.refiner_start) job.request.refiner_start = 0.8;
        }
        if (queue_full(st))
          return make_sd_error(WorkerErrc::queue_full, "the queue is full (" + std::to_string(st.cfg.queue_capacity) +
                                                           " jobs waiting); retry later");
        try {
          job.output.check();
        } catch (const ImageError& e) {
          return make_sd_error(WorkerErrc::invalid_request, e.what());
        }
        if (job.preview_every < 0) return make_sd_error(WorkerErrc::invalid_request, "preview_every must be >= 0");
        if (job.preview_every == 0) job.preview_every = st.cfg.default_preview_every;
        // Validation needs the model: ask a device (its loader) that has it.
        size_t slot = 0;
        while (slot < st.devices.size() && !st.devices[slot].ready) ++slot;
        if (slot == st.devices.size()) return not_ready_error(st);
        auto rp = self->make_response_promise<std::string>();
        auto request = std::move(job.request);
        auto handle = self->request(st.devices[slot].actor, st.cfg.request_timeout / 2, validate_atom::value,
                                    std::move(request));
        const caf::message_id rid = handle.id();
        handle.then(
            [self, rp, rid, job = std::move(job)](ResolvedRequest& resolved) mutable {
              forget_timeout(self, rid);
              auto& st = self->state;
              if (st.stopping)
                rp.deliver(make_sd_error(WorkerErrc::shutting_down, "the worker is shutting down"));
              else if (queue_full(st))
                rp.deliver(make_sd_error(WorkerErrc::queue_full, "the queue is full; retry later"));
              else
                rp.deliver(queue_job(self, std::move(job), std::move(resolved)));
            },
            [self, rp, rid](caf::error& err) mutable {
              forget_timeout(self, rid);
              rp.deliver(err);
            });
        return rp;
      },
      [=](subscribe_atom, const std::string& id) -> caf::result<ok_atom> {
        job_record* job = self->state.table->find(id);
        if (!job) return make_sd_error(WorkerErrc::not_found, "no job " + id);
        ++job->subscribers;
        return ok_atom::value;
      },
      [=](events_atom, const std::string& id, uint64_t from, int64_t wait_ms) -> caf::result<event_batch> {
        auto& st = self->state;
        job_record* job = st.table->find(id);
        if (!job) return make_sd_error(WorkerErrc::not_found, "no job " + id);
        if (from < job->events.size() || is_terminal(job->state) || wait_ms <= 0) return job_table::batch_from(*job, from);
        auto rp = self->make_response_promise<event_batch>();
        const uint64_t token = st.table->park(id, from, rp);
        self->delayed_send(self, milliseconds(wait_ms), expire_atom::value, token);
        return rp;
      },
      [=](detach_atom, const std::string& id) {
        auto& st = self->state;
        job_record* job = st.table->find(id);
        if (!job || job->subscribers == 0) return;
        if (--job->subscribers == 0 && job->submission.cancel_on_disconnect && !is_terminal(job->state))
          end_job(self, *job, JobState::cancelled, WorkerErrc::cancelled, "cancelled: the client disconnected");
      },
      [=](cancel_atom, const std::string& id) -> caf::result<ok_atom> {
        auto& st = self->state;
        job_record* job = st.table->find(id);
        if (!job) return make_sd_error(WorkerErrc::not_found, "no job " + id);
        if (is_terminal(job->state))
          return make_sd_error(WorkerErrc::already_finished, "job " + id + " already " + to_string(job->state));
        end_job(self, *job, JobState::cancelled, WorkerErrc::cancelled, "cancelled by request");
        return ok_atom::value;
      },
      [=](status_atom, const std::string& id) -> caf::result<JobStatus> {
        const job_record* job = self->state.table->find(id);
        if (!job) return make_sd_error(WorkerErrc::not_found, "no job " + id);
        return status_of(self->state, *job);
      },
      [=](health_atom) -> caf::result<WorkerHealth> { return health_of(self->state); },
      [=](ready_atom, int64_t wait_ms) -> caf::result<bool> {
        auto& st = self->state;
        if (settled(st) || wait_ms <= 0) return st.ready;
        auto rp = self->make_response_promise<bool>();
        const uint64_t token = st.table->new_token();
        st.ready_waits[token] = rp;
        self->delayed_send(self, milliseconds(wait_ms), expire_atom::value, token);
        return rp;
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
            end_job(self, *job, JobState::cancelled, WorkerErrc::shutting_down,
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
        e.elapsed_ms = ms_between(job->started, self->clock().now());
        st.table->append(*job, std::move(e));
        st.table->deliver_polls(*job);
      },
      [=](preview_atom, const std::string& id, int32_t step, int32_t total, EncodedImage& image) {
        auto& st = self->state;
        job_record* job = st.table->find(id);
        if (!job || job->state != JobState::running) return;
        JobEvent e;
        e.type = JobEvent::Type::preview;
        e.step = step;
        e.total = total;
        e.elapsed_ms = ms_between(job->started, self->clock().now());
        e.images.push_back(std::move(image));
        st.table->append(*job, std::move(e));
        st.table->deliver_polls(*job);
      },
      [=](narrate_atom, const std::string& actor, const std::string& text) {
        const bool loader = actor == "loader";
        self->state.listeners->narrate(actor, loader ? "model_load" : "narration", loader ? self->state.cfg.model : actor,
                                       text);
      },
      [=](sweep_atom) { sweep(self); },
      [=](expire_atom, uint64_t token) {
        auto& st = self->state;
        if (st.table->expire(token)) return;
        auto it = st.ready_waits.find(token);
        if (it == st.ready_waits.end()) return;
        it->second.deliver(st.ready);
        st.ready_waits.erase(it);
      },
  };
}

}  // namespace sdw::actors
