// A job run to its end inside one HTTP request, for the APIs whose clients wait for the images in
// the response (OpenAI Images, AUTOMATIC1111): submitted through the same worker facade as the
// rbee route (queue, deadline, cancel, metrics, the latency observer), then its events read until
// the terminal one.
#pragma once

#include <functional>
#include <string>

#include "actors/worker.h"
#include "net/http/errors.h"
#include "net/http/handler.h"

namespace sdw::net {

struct SyncJobOptions {
  std::string operation;       // the metrics' operation label, e.g. "openai.generations"
  std::string correlation_id;  // carried into the job's narration
  // Called with the job id once the job is queued (e.g. to remember it for interrupt/progress).
  std::function<void(const std::string& job_id)> on_queued;
  // Called with each event of the job as it is read (progress, previews, ...), on this thread.
  std::function<void(const JobEvent& event)> on_event;
};

// Checks the job's LoRAs, submits it and waits for its terminal event, which it returns
// (complete, error or cancelled). Refusals before the job is queued are thrown as ApiError and
// counted as rejections (QUEUE_FULL 429, MODEL_NOT_FOUND, ...). The wait is bounded by the job's
// deadline, which the worker enforces. A client that closes its connection meanwhile
// (GuardedServer::client_gone, looked at every 100 ms) cancels the job: ApiError 499
// CLIENT_DISCONNECTED, an answer nobody reads.
JobEvent run_job_to_end(ServerContext& ctx, JobSubmission submission, const SyncJobOptions& options);

// The ApiError a failed job's terminal error event stands for (timeout and out of memory 503,
// invalid request 400, anything else 500 JOB_FAILED).
ApiError job_failure(const JobEvent& event);

}  // namespace sdw::net
