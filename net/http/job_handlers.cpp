// Job route handlers (see job_handlers.h).
#include "net/http/job_handlers.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>

#include "net/http/errors.h"
#include "net/http/lora_handlers.h"
#include "net/http/middleware.h"
#include "net/http/operations.h"
#include "net/http/sse.h"

namespace sdw::net {
namespace {

// The job id of a /v1/jobs/{id} route; ids that cannot be ours are "not found" (this also
// covers path tricks such as "..", "%2F" and NUL bytes, which the id check never lets through).
std::string job_id_of(const httplib::Request& req) {
  std::string id = req.matches.size() > 1 ? req.matches[1].str() : std::string();
  if (!is_valid_job_id(id)) {
    if (id.size() > 64) id = id.substr(0, 64) + "...";
    throw job_not_found(id);
  }
  return id;
}

int64_t last_event_id(const httplib::Request& req) {
  const std::string v = req.get_header_value("Last-Event-ID");
  if (v.empty() || v.size() > 18 || !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); }))
    return -1;
  return std::stoll(v);
}

// An EventSource that reconnects after the stream's final marker (its Last-Event-ID is the
// marker's id or later) has had everything; the marker's id is the job's event count + 1.
bool reconnect_after_end(Worker& worker, const std::string& job_id, int64_t last_id) {
  if (last_id <= 0 || !is_terminal(worker.status(job_id).state)) return false;
  std::shared_ptr<EventStream> history = worker.subscribe(job_id);
  int64_t events = 0;
  JobEvent e;
  while (history->next(e, std::chrono::seconds(5))) {
    ++events;
    if (e.terminal()) break;
  }
  return last_id >= events + 1;
}

}  // namespace

std::string media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  t.erase(std::remove_if(t.begin(), t.end(), [](unsigned char c) { return std::isspace(c); }), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t;
}

void handle_submit_job(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string type = media_type(req.get_header_value("Content-Type"));
  if (type != "application/json")
    throw ApiError(ErrorType::unsupported_media_type, "UNSUPPORTED_MEDIA_TYPE",
                   "Content-Type must be application/json, got '" + (type.empty() ? std::string("(none)") : type) + "'");
  JobRequest job;
  try {
    job = parse_job_request(req.body, ctx.config.jobs);
    check_loras(ctx, job.submission.request);
  } catch (const ApiError& e) {
    ctx.metrics.job_rejected(e.code());
    throw;
  }
  job.submission.model = job.model;
  // rbee's correlation_id: the caller's X-Correlation-Id, else this request's id.
  const std::string correlation = req.get_header_value("X-Correlation-Id");
  job.submission.correlation_id =
      is_valid_request_id(correlation) ? correlation : res.get_header_value("X-Request-Id");
  const bool follow = !job.submission.cancel_on_disconnect;
  std::string job_id;
  try {
    job_id = ctx.worker.submit(std::move(job.submission));  // the images move on, not copied
  } catch (const WorkerError& e) {
    const ApiError mapped = from_worker_error(e);
    ctx.metrics.job_rejected(mapped.code());
    throw mapped;
  }
  ctx.metrics.job_submitted(job.operation);
  if (follow) ctx.observer.follow(job_id);
  res.set_header("Location", "/v1/jobs/" + job_id);
  send_json(res, 200, job_accepted_json(job_id));
}

void handle_job_stream(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string job_id = job_id_of(req);
  std::shared_ptr<EventStream> stream = ctx.worker.subscribe(job_id);  // 404 when unknown
  if (reconnect_after_end(ctx.worker, job_id, last_event_id(req))) {
    res.status = 204;  // the SSE standard's "stop reconnecting"
    return;
  }

  SseOptions options;
  options.keepalive = ctx.config.sse_keepalive;
  options.poll = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(250), ctx.config.sse_keepalive);
  options.last_event_id = last_event_id(req);
  JobObserver& observer = ctx.observer;
  options.on_event = [&observer](const JobEvent& e) { observer.observe(e); };
  auto pump = std::make_shared<SsePump>(std::move(stream), options);
  Metrics& metrics = ctx.metrics;
  if (!metrics.try_open_stream(ctx.config.max_streams))
    throw ApiError(ErrorType::unavailable, "TOO_MANY_STREAMS",
                   "the worker has " + std::to_string(ctx.config.max_streams) +
                       " event streams open; poll GET /v1/jobs/{id} or retry shortly");

  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [pump](size_t, httplib::DataSink& sink) {
        if (!sink.is_writable()) {
          pump->reader_gone();
          return false;
        }
        std::string chunk;
        const bool more = pump->next_chunk(chunk);
        if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) {
          pump->reader_gone();  // the client went away mid-stream
          return false;
        }
        if (!more) sink.done();
        return true;
      },
      [pump, &metrics](bool) {
        metrics.stream_closed();
        if (!pump->done()) pump->reader_gone();  // server stopping or connection lost
      });
}

void handle_job_status(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string job_id = job_id_of(req);
  send_json(res, 200, job_status_json(ctx.worker.status(job_id)));
}

void handle_cancel_job(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string job_id = job_id_of(req);
  ctx.worker.cancel(job_id);  // WorkerError: not_found -> 404, already_finished -> 409
  send_json(res, 200, {{"job_id", job_id}, {"status", "cancelled"}});
}

}  // namespace sdw::net
