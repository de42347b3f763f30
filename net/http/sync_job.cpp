// Jobs run to their end within a request (see sync_job.h).
#include "net/http/sync_job.h"

#include "net/http/errors.h"
#include "net/http/guarded_server.h"
#include "net/http/lora_handlers.h"

namespace sdw::net {
namespace {

// How often a waiting request looks at its client's connection.
constexpr std::chrono::milliseconds kClientCheck{100};

}  // namespace

JobEvent run_job_to_end(ServerContext& ctx, JobSubmission submission, const SyncJobOptions& options) {
  std::string job_id;
  try {
    check_loras(ctx, submission.request);
    submission.correlation_id = options.correlation_id;
    job_id = ctx.worker.submit(std::move(submission));
  } catch (const ApiError& e) {
    ctx.metrics.job_rejected(e.code());
    throw;
  } catch (const WorkerError& e) {
    const ApiError mapped = from_worker_error(e);
    ctx.metrics.job_rejected(mapped.code());
    throw mapped;
  }
  ctx.metrics.job_submitted(options.operation);
  ctx.observer.follow(job_id);
  if (options.on_queued) options.on_queued(job_id);

  std::shared_ptr<EventStream> stream = ctx.worker.subscribe(job_id);
  JobEvent e;
  // Each wait is short so that a stream the worker ended (shutdown) and a client that went away
  // are noticed; the job's own deadline bounds the whole loop.
  while (!stream->finished()) {
    if (GuardedServer::client_gone()) {
      // nobody will read the answer: the job is cancelled, the worker moves on to others
      try {
        ctx.worker.cancel(job_id);
      } catch (const WorkerError&) {  // it ended meanwhile
      }
      throw ApiError(ErrorType::invalid_request, "CLIENT_DISCONNECTED",
                     "the client closed the connection; job " + job_id + " was cancelled")
          .with_status(499);
    }
    if (!stream->next(e, kClientCheck)) continue;
    if (options.on_event) options.on_event(e);
    if (e.terminal()) return e;
  }
  throw ApiError(ErrorType::unavailable, "JOB_LOST", "the worker stopped before job " + job_id + " ended");
}

ApiError job_failure(const JobEvent& event) {
  const std::string msg = event.message.empty() ? "the job failed" : event.message;
  if (event.error_code == "timeout") return ApiError(ErrorType::unavailable, "TIMEOUT", msg);
  if (event.error_code == "out_of_memory") return ApiError(ErrorType::unavailable, "OUT_OF_MEMORY", msg);
  if (event.error_code == "invalid_request") return ApiError(ErrorType::invalid_request, "INVALID_REQUEST", msg);
  if (event.error_code == "shutting_down") return ApiError(ErrorType::unavailable, "SHUTTING_DOWN", msg);
  return ApiError(ErrorType::internal, "JOB_FAILED", msg);
}

}  // namespace sdw::net
