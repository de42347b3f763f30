// The job registry's state and the functions its behaviour (job_registry.cpp) is made of, one unit
// per concern: registry_devices.cpp (device slots, dispatch, model loading and readiness, the
// supervision of devices and writers) and registry_jobs.cpp (a job's end, deadlines, status,
// health, shutdown, narration). Internal to the registry.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "actors/interfaces.h"
#include "actors/job_table.h"
#include "actors/lifecycle.h"
#include "actors/worker.h"

namespace sdw::actors {

struct device_slot {
  std::string name;
  device_actor actor;
  bool ready = false;
  std::string failure;  // why it could not load the model
  std::set<std::string> jobs;  // the jobs it runs (none: free)
  int capacity = 1;            // jobs it may run at once (WorkerConfig::max_batch)
  std::string co_run_key;      // what the jobs it runs share (their LoRA set: co_run_key())
  model_info info;      // once it has loaded the model
  writer_actor writer;  // encodes the image files of the jobs this device ran
  std::set<std::string> writing;  // jobs sent to `writer` and not answered yet
};

struct registry_state {
  WorkerConfig cfg;
  ServedModel served;  // the configured name and aliases, and the label once loaded
  std::shared_ptr<status_listeners> listeners;
  std::unique_ptr<job_table> table;
  std::vector<device_slot> devices;
  // The device actors, shared with the exit hook that ends them with the registry.
  std::shared_ptr<std::vector<device_actor>> device_handles = std::make_shared<std::vector<device_actor>>();
  std::shared_ptr<std::vector<writer_actor>> writer_handles = std::make_shared<std::vector<writer_actor>>();
  model_info model;
  bool ready = false, stopping = false, stopped = false;
  std::string status = "starting", failure;
  std::map<uint64_t, caf::typed_response_promise<bool>> ready_waits;  // by token (job_table::new_token)
  std::set<std::pair<clock_type::time_point, std::string>> deadlines;
  clock_type::time_point next_sweep = clock_type::time_point::max();
  std::vector<caf::typed_response_promise<ok_atom>> shutdown_waiters;
  static inline const char* name = "sdw.job_registry";
};

using registry_self = registry_actor::stateful_pointer<registry_state>;

inline double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// -- registry_devices.cpp ----------------------------------------------------------------------
// A device that has the model, runs fewer jobs than it may and whose writer keeps up.
bool takes_jobs(const device_slot& d);
// What jobs running on one device at once must share: the model-wide state their stages set (the
// LoRAs fused into the weights). "" for no LoRA.
std::string co_run_key(const job_record& job);
// The jobs a device runs at once (WorkerConfig::max_batch, 0: 4 on CUDA, 1 elsewhere).
int device_capacity(const WorkerConfig& cfg, const std::string& device);
// Spawns the devices and their writers; each device starts loading the model.
void start_devices(registry_self self);
// Hands queued jobs to devices that take jobs.
void dispatch(registry_self self);
bool queue_full(const registry_state& st);
// Every device loaded the model or failed to.
bool settled(const registry_state& st);
caf::error not_ready_error(const registry_state& st);
// A device or writer went down.
void on_down(registry_self self, const caf::down_msg& dm);

// -- registry_jobs.cpp -------------------------------------------------------------------------
// Recomputes the worker's status; tells the listeners when it changed.
void update_status(registry_self self);
// A job's lifecycle for the logs (and heartbeats' listeners); `in_stream` also appends it to the
// job's own events as a narration (event: narration in its SSE stream).
void narrate_job(registry_self self, job_record& job, const std::string& action, const std::string& human,
                 const std::string& level, bool in_stream, const std::string& actor = "job_registry");
// A new job, queued, with its deadline watched; returns its id.
std::string queue_job(registry_self self, JobSubmission submission, ResolvedRequest request);
// Moves a job to a terminal state with its terminal event; a running job's device is told to stop.
void end_job(registry_self self, job_record& job, JobState state, WorkerErrc code, const std::string& message,
             JobEvent terminal = {});
// Fails the jobs past their deadline and drops expired results.
void sweep(registry_self self);
void begin_shutdown(registry_self self);
// While shutting down: once no job runs (none on a device, none being written), the shutdown is
// over and its waiters are answered. Returns whether it is over.
bool finish_shutdown_if_idle(registry_self self);
JobStatus status_of(const registry_state& st, const job_record& job);
WorkerHealth health_of(const registry_state& st);

}  // namespace sdw::actors
