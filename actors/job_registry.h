// The job registry actor: the facade's entry point and the dispatcher. It validates and queues
// jobs (bounded queue: queue_full), hands each to a device with free capacity, records every
// job's events (queued, started, progress, preview, complete | error | cancelled) so that any
// number of subscribers, joining at any time, read the whole history (long polls: {events, job,
// from, wait}), enforces per-job deadlines (failed with "timeout"), answers status and cancel,
// drops finished jobs after a TTL or beyond a count, and shuts down gracefully. It spawns and
// monitors the device actors and, per device, a writer (writer.h): when a device answers a run
// with the images as pixels, the device takes the next job at once while the writer encodes the
// files; the job completes when the writer answers (it stays `running` until then).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "actors/interfaces.h"
#include "actors/job_table.h"

namespace sdw::actors {

// Listeners of lifecycle changes and narration (local callbacks, called from the registry). A
// listener added late first gets the last kHistory events (e.g. the model load it missed).
class status_listeners {
 public:
  static constexpr size_t kHistory = 64;
  void add(std::function<void(const LifecycleEvent&)> fn);
  // Stamps emitted_at_ms when unset and calls every listener.
  void notify(LifecycleEvent event);
  void status(const std::string& status);
  void narrate(const std::string& actor, const std::string& action, const std::string& target, const std::string& human,
               const std::string& level = "info");

 private:
  std::mutex mutex_;
  std::vector<std::function<void(const LifecycleEvent&)>> fns_;
  std::deque<LifecycleEvent> history_;
};

struct device_slot {
  std::string name;
  device_actor actor;
  bool ready = false;
  std::string failure;  // why it could not load the model
  std::string job;      // the job it runs ("" = free)
  model_info info;      // once it has loaded the model
  writer_actor writer;  // encodes the image files of the jobs this device ran
  std::set<std::string> writing;  // jobs sent to `writer` and not answered yet
};

// A subscriber's long poll waiting for events (or readiness).
struct parked_poll {
  std::string job;  // "" for a readiness wait
  uint64_t from = 0;
  caf::typed_response_promise<event_batch> events;
  caf::typed_response_promise<bool> ready;
};

struct registry_state {
  WorkerConfig cfg;
  std::shared_ptr<status_listeners> listeners;
  std::unique_ptr<job_table> table;
  std::vector<device_slot> devices;
  // The device actors, shared with the exit hook that ends them with the registry.
  std::shared_ptr<std::vector<device_actor>> device_handles = std::make_shared<std::vector<device_actor>>();
  std::shared_ptr<std::vector<writer_actor>> writer_handles = std::make_shared<std::vector<writer_actor>>();
  model_info model;
  bool ready = false, stopping = false, stopped = false;
  std::string status = "starting", failure;
  std::map<uint64_t, parked_poll> polls;
  uint64_t next_token = 1;
  std::set<std::pair<clock_type::time_point, std::string>> deadlines;
  clock_type::time_point next_sweep = clock_type::time_point::max();
  std::vector<caf::typed_response_promise<ok_atom>> shutdown_waiters;
  std::mt19937_64 rng{std::random_device{}()};
  static inline const char* name = "sdw.job_registry";
};

registry_actor::behavior_type job_registry(registry_actor::stateful_pointer<registry_state> self, WorkerConfig cfg,
                                           std::shared_ptr<status_listeners> listeners);

// "job-" + a random (version 4) UUID.
std::string new_job_id(std::mt19937_64& rng);

}  // namespace sdw::actors
