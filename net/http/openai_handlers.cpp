// OpenAI Images API handlers (see openai_handlers.h).
#include "net/http/openai_handlers.h"

#include <httplib.h>

#include <cctype>

#include "net/http/errors.h"
#include "net/http/image_urls.h"
#include "net/http/job_handlers.h"
#include "net/http/json_body.h"
#include "net/http/middleware.h"
#include "net/http/openai_images.h"
#include "net/http/sync_job.h"

namespace sdw::net {
namespace {

bool is_host_text(const std::string& host) {
  if (host.empty() || host.size() > 255) return false;
  for (unsigned char c : host)
    if (!std::isalnum(c) && c != '.' && c != '-' && c != ':' && c != '[' && c != ']') return false;
  return true;
}

// The worker's address as the client reached it (a proxy's X-Forwarded-Host/-Proto first).
std::string base_url(const ServerContext& ctx, const httplib::Request& req) {
  std::string host = req.get_header_value("X-Forwarded-Host");
  if (!is_host_text(host)) host = req.get_header_value("Host");
  if (!is_host_text(host)) host = ctx.config.host + ":" + std::to_string(ctx.port.load());
  const std::string scheme = req.get_header_value("X-Forwarded-Proto") == "https" ? "https" : "http";
  return scheme + "://" + host;
}

void run_and_answer(ServerContext& ctx, const httplib::Request& req, httplib::Response& res, OpenAiImageJob job,
                    const char* operation) {
  job.job.submission.model = job.job.model;
  SyncJobOptions options;
  options.operation = operation;
  const std::string correlation = req.get_header_value("X-Correlation-Id");
  options.correlation_id = is_valid_request_id(correlation) ? correlation : res.get_header_value("X-Request-Id");
  std::string job_id;
  options.on_queued = [&job_id](const std::string& id) { job_id = id; };
  const JobEvent end = run_job_to_end(ctx, std::move(job.job.submission), options);
  if (end.type == JobEvent::Type::cancelled)
    throw ApiError(ErrorType::conflict, "JOB_CANCELLED", "the job was cancelled: " + end.message);
  if (end.type != JobEvent::Type::complete) throw job_failure(end);
  std::vector<std::string> urls;
  if (job.response_format == "url") {
    const std::string base = base_url(ctx, req);
    for (size_t i = 0; i < end.images.size(); ++i)
      urls.push_back(base + signed_image_path(job_id, static_cast<int>(i), end.images[i].format == "jpeg" ? "jpg" : "png"));
  }
  res.set_header("X-Job-Id", job_id);
  send_json(res, 200, openai_images_response(end, job, urls));
}

}  // namespace

void handle_openai_generations(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string type = media_type(req.get_header_value("Content-Type"));
  if (type != "application/json")
    throw ApiError(ErrorType::unsupported_media_type, "UNSUPPORTED_MEDIA_TYPE",
                   "Content-Type must be application/json, got '" + (type.empty() ? std::string("(none)") : type) + "'");
  OpenAiImageJob job;
  try {
    if (req.body.empty())
      throw ApiError(ErrorType::invalid_request, "INVALID_JSON", "request body is empty; expected a JSON object");
    job = parse_openai_generation(parse_json_body(req.body), ctx.config.jobs);
  } catch (const ApiError& e) {
    ctx.metrics.job_rejected(e.code());
    throw;
  }
  run_and_answer(ctx, req, res, std::move(job), "openai.generations");
}

void handle_openai_edits(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  if (!req.is_multipart_form_data())
    throw ApiError(ErrorType::unsupported_media_type, "UNSUPPORTED_MEDIA_TYPE",
                   "Content-Type must be multipart/form-data (fields image, mask, prompt, n, size, ...)");
  FormParts form;
  for (const auto& [name, part] : req.files) form.emplace(name, FormPart{part.content, part.filename});
  OpenAiImageJob job;
  try {
    job = parse_openai_edit(form, ctx.config.jobs);
  } catch (const ApiError& e) {
    ctx.metrics.job_rejected(e.code());
    throw;
  }
  run_and_answer(ctx, req, res, std::move(job), "openai.edits");
}

void handle_openai_image_file(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string name = req.matches.size() > 1 ? req.matches[1].str() : std::string();
  const ApiError gone(ErrorType::not_found, "IMAGE_NOT_FOUND",
                      "no such image: the URL is not one this worker process gave out, or its job's result expired");
  const auto ref = verify_image_file(name);
  if (!ref) throw gone;
  JobStatus status;
  try {
    status = ctx.worker.status(ref->job_id);
  } catch (const WorkerError&) {
    throw gone;
  }
  if (!status.result || ref->index >= static_cast<int>(status.result->images.size())) throw gone;
  const EncodedImage& image = status.result->images[static_cast<size_t>(ref->index)];
  res.status = 200;
  res.set_header("Cache-Control", "private, max-age=600");
  res.set_content(image.bytes, image.format == "jpeg" ? "image/jpeg" : "image/png");
}

}  // namespace sdw::net
