// AUTOMATIC1111 API handlers (see a1111_handlers.h).
#include "net/http/a1111_handlers.h"

#include <httplib.h>

#include <fstream>

#include "model/schedulers/scheduler.h"
#include "net/http/a1111_requests.h"
#include "net/http/errors.h"
#include "net/http/job_handlers.h"
#include "net/http/json_body.h"
#include "net/http/metrics.h"
#include "net/http/middleware.h"
#include "net/http/sync_job.h"

namespace sdw::net {
namespace {

// A1111 shows a preview every few steps; this worker's --preview-every when set, else every 5th.
constexpr int kDefaultPreviewEvery = 5;

nlohmann::json json_body(const httplib::Request& req) {
  const std::string type = media_type(req.get_header_value("Content-Type"));
  if (type != "application/json")
    throw ApiError(ErrorType::unsupported_media_type, "UNSUPPORTED_MEDIA_TYPE",
                   "Content-Type must be application/json, got '" + (type.empty() ? std::string("(none)") : type) + "'");
  if (req.body.empty())
    throw ApiError(ErrorType::invalid_request, "INVALID_JSON", "request body is empty; expected a JSON object");
  return parse_json_body(req.body);
}

std::string served_name(ServerContext& ctx) {
  const std::string& label = ctx.config.jobs.model.label;
  return label.empty() ? ctx.config.jobs.model.name : label;
}

// Runs the request's jobs (one per image, A1111's n_iter x batch_size) one after the other,
// honouring interrupt and skip (which ends the current image).
void generate(ServerContext& ctx, const httplib::Request& req, httplib::Response& res, bool img2img) {
  A1111Request request;
  try {
    const nlohmann::json body = json_body(req);
    request = img2img ? parse_a1111_img2img(body, ctx.config.jobs) : parse_a1111_txt2img(body, ctx.config.jobs);
  } catch (const ApiError& e) {
    ctx.metrics.job_rejected(e.code());
    throw;
  }
  A1111Session& session = ctx.a1111;
  const int jobs = static_cast<int>(request.iterations.size());  // one per image
  const A1111Session::Id id = session.begin(jobs);
  struct EndSession {
    A1111Session& s;
    A1111Session::Id id;
    ~EndSession() { s.end(id); }
  } end_session{session, id};

  const std::string correlation = req.get_header_value("X-Correlation-Id");
  std::vector<JobEvent> completed;
  for (int i = 0; i < jobs && !session.interrupted(id); ++i) {
    JobRequest& job = request.iterations[static_cast<size_t>(i)];
    job.submission.model = job.model;
    const int every = ctx.config.jobs.default_preview_every;
    job.submission.preview_every = every > 0 ? every : kDefaultPreviewEvery;
    SyncJobOptions options;
    options.operation = img2img ? "a1111.img2img" : "a1111.txt2img";
    options.correlation_id = is_valid_request_id(correlation) ? correlation : res.get_header_value("X-Request-Id");
    options.on_queued = [&](const std::string& job_id) {
      if (session.set_job(id, job_id, i)) {
        try {
          ctx.worker.cancel(job_id);  // interrupted while it was being queued
        } catch (const WorkerError&) {
        }
      }
    };
    options.on_event = [&](const JobEvent& e) { session.observe(id, e); };
    JobEvent end = run_job_to_end(ctx, std::move(job.submission), options);
    if (end.type == JobEvent::Type::complete) {
      completed.push_back(std::move(end));
    } else if (end.type == JobEvent::Type::error) {
      throw job_failure(end);
    }  // cancelled: interrupt (the loop ends), skip or DELETE /v1/jobs/{id} (the next iteration runs)
  }
  apply_a1111_overlay(request, completed);
  send_json(res, 200, a1111_response(request, completed, served_name(ctx), session.interrupted(id)));
}

int64_t meminfo_bytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  int64_t kb = 0;
  std::string unit;
  while (in >> name >> kb >> unit)
    if (name == key + ":") return kb * 1024;
  return -1;
}

}  // namespace

void handle_a1111_txt2img(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  generate(ctx, req, res, false);
}

void handle_a1111_img2img(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  generate(ctx, req, res, true);
}

void handle_a1111_progress(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const bool skip_image = req.get_param_value("skip_current_image") == "true";
  const auto s = ctx.a1111.current();
  nlohmann::json state = {{"skipped", s && s->skipped},        {"interrupted", s && s->interrupted},
                          {"stopping_generation", false},      {"job", s ? s->job_id : ""},
                          {"job_count", s ? s->iterations : 0}, {"job_timestamp", s ? s->timestamp : "0"},
                          {"job_no", s ? s->iteration : 0},     {"sampling_step", s ? s->step : 0},
                          {"sampling_steps", s ? s->total : 0}};
  double progress = 0, eta = 0;
  if (s && s->iterations > 0) {
    const double within = s->total > 0 ? static_cast<double>(s->step) / s->total : 0.0;
    progress = (s->iteration + within) / s->iterations;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - s->started).count();
    // A1111: time since start / progress - time since start (the remaining seconds)
    if (progress > 0) eta = elapsed / progress - elapsed;
  }
  nlohmann::json current_image = nullptr;
  if (s && !skip_image && !s->preview_png.empty()) current_image = encode_base64(s->preview_png);
  send_json(res, 200,
            {{"progress", progress}, {"eta_relative", eta}, {"state", state}, {"current_image", current_image},
             {"textinfo", nullptr}, {"current_task", s ? nlohmann::json(s->job_id) : nlohmann::json(nullptr)}});
}

void handle_a1111_interrupt(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  if (const auto job = ctx.a1111.interrupt()) {
    try {
      ctx.worker.cancel(*job);
    } catch (const WorkerError&) {  // finished meanwhile: the next iteration will not start
    }
  }
  send_json(res, 200, nullptr);
}

void handle_a1111_skip(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  if (const auto job = ctx.a1111.skip()) {
    try {
      ctx.worker.cancel(*job);
    } catch (const WorkerError&) {
    }
  }
  send_json(res, 200, nullptr);
}

void handle_a1111_samplers(ServerContext&, const httplib::Request&, httplib::Response& res) {
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& name : scheduler_names()) {
    nlohmann::json aliases = nlohmann::json::array({name});
    if (name == "euler") aliases.push_back("flow_match_euler");  // A1111's Euler is SD3's flow-matching Euler too
    out.push_back({{"name", a1111_sampler_name(name)}, {"aliases", aliases}, {"options", nlohmann::json::object()}});
  }
  send_json(res, 200, out);
}

void handle_a1111_schedulers(ServerContext&, const httplib::Request&, httplib::Response& res) {
  send_json(res, 200,
            nlohmann::json::array({{{"name", "automatic"}, {"label", "Automatic"}, {"aliases", nullptr},
                                    {"default_rho", -1}, {"need_inner_model", false}},
                                   {{"name", "karras"}, {"label", "Karras"}, {"aliases", nullptr},
                                    {"default_rho", 7.0}, {"need_inner_model", false}}}));
}

void handle_a1111_sd_models(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  const std::string name = served_name(ctx);
  send_json(res, 200,
            nlohmann::json::array({{{"title", name}, {"model_name", name}, {"hash", nullptr}, {"sha256", nullptr},
                                    {"filename", name}, {"config", nullptr}}}));
}

void handle_a1111_get_options(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  send_json(res, 200,
            {{"sd_model_checkpoint", served_name(ctx)}, {"sd_checkpoint_hash", nullptr}, {"CLIP_stop_at_last_layers", 1},
             {"samples_format", "png"}, {"show_progress_every_n_steps",
                                         ctx.config.jobs.default_preview_every > 0 ? ctx.config.jobs.default_preview_every
                                                                                   : kDefaultPreviewEvery},
             {"live_previews_enable", true}});
}

void handle_a1111_set_options(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const nlohmann::json body = json_body(req);
  if (!body.is_object())
    throw ApiError(ErrorType::invalid_request, "INVALID_JSON", "request body must be a JSON object, got " + json_type(body));
  for (const auto& [key, value] : body.items()) {
    if (key != "sd_model_checkpoint")
      throw invalid_field(key, "option '" + key.substr(0, 64) + "' cannot be set on this worker; only sd_model_checkpoint (the served model) is accepted");
    if (!value.is_string() || !ctx.config.jobs.model.accepts(value.get<std::string>()))
      throw ApiError(ErrorType::invalid_request, "MODEL_NOT_FOUND",
                     "sd_model_checkpoint must name the served model (one model per worker): " + ctx.config.jobs.model.describe(),
                     "sd_model_checkpoint");
  }
  send_json(res, 200, nullptr);
}

void handle_a1111_loras(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  nlohmann::json out = nlohmann::json::array();
  if (ctx.config.jobs.lora_folders)
    for (const AssetFile& file : ctx.config.jobs.lora_folders->list())
      out.push_back({{"name", file.name}, {"alias", file.name}, {"path", file.name + file.path.extension().string()},
                     {"metadata", nlohmann::json::object()}});
  send_json(res, 200, out);
}

void handle_a1111_memory(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  const int64_t total = meminfo_bytes("MemTotal"), available = meminfo_bytes("MemAvailable");
  nlohmann::json ram = {{"free", available}, {"used", total - available}, {"total", total},
                        {"process_rss", process_rss_bytes()}};
  nlohmann::json cuda = {{"error", "memory of accelerators is not reported by this worker; see GET /v1/models"}};
  send_json(res, 200, {{"ram", ram}, {"cuda", cuda}});
}

}  // namespace sdw::net
