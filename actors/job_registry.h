// The job registry actor: the facade's entry point and the dispatcher. It validates and queues
// jobs (bounded queue: queue_full), hands each to a device with free capacity, records every
// job's events (queued, started, progress, preview, complete | error | cancelled) so that any
// number of subscribers, joining at any time, read the whole history (long polls: {events, job,
// from, wait}), enforces per-job deadlines (failed with "timeout"), answers status and cancel,
// drops finished jobs after a TTL or beyond a count, and shuts down gracefully. It spawns and
// monitors the device actors and, per device, a writer (writer.h): when a device answers a run
// with the images as pixels, the device takes the next job at once while the writer encodes the
// files; the job completes when the writer answers (it stays `running` until then).
// Its state and units: registry_state.h.
#pragma once

#include <memory>

#include "actors/interfaces.h"
#include "actors/lifecycle.h"
#include "actors/worker.h"

namespace sdw::actors {

struct registry_state;

registry_actor::behavior_type job_registry(registry_actor::stateful_pointer<registry_state> self, WorkerConfig cfg,
                                           std::shared_ptr<status_listeners> listeners);

}  // namespace sdw::actors
