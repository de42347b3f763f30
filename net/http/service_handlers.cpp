// Service route handlers (see service_handlers.h).
#include "net/http/service_handlers.h"

#include <httplib.h>

#include <ctime>
#include <filesystem>

#include "model/catalog/catalog.h"
#include "net/http/errors.h"
#include "net/http/metrics.h"
#include "net/http/batch_metrics.h"
#include "net/http/stage_map.h"

namespace sdw::net {
namespace {

// rbee's WorkerInfo statuses: starting | ready | busy | stopping | stopped.
std::string rbee_status(const WorkerHealth& h) {
  if (h.status == "failed") return "stopped";
  return h.status.empty() ? (h.ready ? "ready" : "starting") : h.status;
}

// A not-ready reason for the routes that need no token: the model's name in place of the path it
// was configured with (the log and the authenticated routes keep the path).
std::string public_reason(const WorkerHealth& h) {
  std::string reason = h.reason;
  const std::string& path = h.model;
  const size_t slash = path.find_last_of('/', path.size() > 1 ? path.size() - 2 : 0);
  if (path.empty() || slash == std::string::npos) return reason;
  std::string name = path.substr(slash + 1);
  if (!name.empty() && name.back() == '/') name.pop_back();
  for (size_t at = reason.find(path); at != std::string::npos; at = reason.find(path, at + name.size()))
    reason.replace(at, path.size(), name);
  return reason;
}

// When this process started (Unix seconds): the `created` of the served model's entry.
int64_t process_start_unix() {
  static const int64_t start = static_cast<int64_t>(std::time(nullptr));
  return start;
}

}  // namespace

void handle_health(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  const WorkerHealth h = ctx.worker.health();
  if (h.status == "stopping" || h.status == "stopped")
    return send_json(res, 503, {{"status", "unhealthy"}, {"reason", "shutting down"}});
  if (h.status == "failed")
    return send_json(res, 503, {{"status", "unhealthy"}, {"reason", h.reason.empty() ? "model failed to load" : public_reason(h)}});
  send_json(res, 200, {{"status", "healthy"}});
}

void handle_ready(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  const WorkerHealth h = ctx.worker.health();
  if (h.ready) return send_json(res, 200, {{"ready", true}});
  std::string reason = public_reason(h);
  if (reason.empty()) reason = h.status == "starting" || h.status.empty() ? "loading model" : h.status;
  send_json(res, 503, {{"ready", false}, {"reason", reason}});
}

void handle_info(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  const WorkerHealth h = ctx.worker.health();
  const int port = ctx.port.load();
  nlohmann::json info = {
      {"id", ctx.config.worker_id.empty() ? "sd-worker-" + std::to_string(port) : ctx.config.worker_id},
      {"model_id", h.model.empty() ? ctx.config.jobs.model.name : h.model},
      {"device", ctx.config.device.empty() ? h.device : ctx.config.device},
      {"port", port},
      {"status", rbee_status(h)},
      {"implementation", "sd-worker-cpp"},
      {"version", ctx.config.version},
  };
  send_json(res, 200, info);
}

void handle_models(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  const WorkerHealth h = ctx.worker.health();
  const std::string name = h.model.empty() ? ctx.config.jobs.model.name : h.model;
  nlohmann::json devices = nlohmann::json::array();
  int64_t weights = 0, estimate = 0;
  bool any_ready = false;
  for (const auto& d : h.devices) {
    nlohmann::json dj = {{"device", d.device},
                         {"state", d.state},
                         {"busy", !d.job.empty()},
                         {"weight_bytes", d.weight_bytes},
                         {"estimate_bytes", d.estimate_bytes},
                         {"available_bytes", d.available_bytes},
                         {"load_ms", d.load_ms}};
    if (!d.error.empty()) dj["error"] = d.error;
    devices.push_back(std::move(dj));
    weights += d.weight_bytes;
    estimate += d.estimate_bytes;
    any_ready = any_ready || d.state == "ready";
  }
  nlohmann::json model = {
      {"id", name},
      {"object", "model"},
      {"created", process_start_unix()},  // OpenAI's Model object: created, owned_by
      {"owned_by", "sd-worker"},
      {"aliases", ctx.config.jobs.model.aliases},
      {"status", h.status == "failed" ? "failed" : (any_ready ? "loaded" : "loading")},
      {"loaded", any_ready},
      {"dtype", h.dtype},
      {"devices", devices},
      {"memory", {{"weight_bytes", weights}, {"estimate_bytes", estimate}}},
      {"role", "base"},
      {"stages", stage_map_json(ctx.config.remote_status.get())},
  };
  if (any_ready) {
    model["family"] = h.family;
    model["default_width"] = h.default_width;
    model["default_height"] = h.default_height;
    model["default_steps"] = h.default_steps;
  }
  if (h.status == "failed") model["error"] = h.reason;
  if (const auto entry = find_catalog_entry(name)) {
    model["catalog_version"] = entry->version;
    if (!entry->repo.empty()) model["repo"] = entry->repo;
  }
  // What else this worker could serve (one model per process: start another worker for it).
  nlohmann::json catalog = nlohmann::json::array();
  for (const auto& e : sdw::catalog()) {
    if (e.family == "demo") continue;
    catalog.push_back({{"version", e.version},
                       {"repo", e.repo},
                       {"family", e.family},
                       {"inpainting", e.inpainting},
                       {"width", e.width},
                       {"height", e.height},
                       {"steps", e.steps},
                       {"guidance", e.guidance},
                       {"estimate_bytes",
                        {{"fp32", estimate_memory_bytes(e, 4, e.width, e.height)},
                         {"fp16", estimate_memory_bytes(e, 2, e.width, e.height)}}}});
  }
  nlohmann::json data = nlohmann::json::array({model});
  if (!h.refiner.empty()) {
    // serve --refiner: loaded with the model by each device's loaders; jobs name it in `refiner`.
    std::filesystem::path folder(h.refiner);
    if (folder.filename().empty()) folder = folder.parent_path();
    const std::string label = folder.filename().string();
    nlohmann::json refiner = {
        {"id", h.refiner},
        {"object", "model"},
        {"created", process_start_unix()},
        {"owned_by", "sd-worker"},
        {"aliases", label.empty() || label == h.refiner ? nlohmann::json::array() : nlohmann::json::array({label})},
        {"status", model["status"]},
        {"loaded", any_ready},
        {"dtype", h.dtype},
        {"devices", devices},
        {"memory", {{"weight_bytes", h.refiner_weight_bytes}, {"estimate_bytes", h.refiner_weight_bytes}}},
        {"role", "refiner"},
    };
    if (any_ready) refiner["family"] = h.refiner_family;
    data.push_back(std::move(refiner));
  }
  send_json(res, 200,
            {{"object", "list"},
             {"data", data},
             {"process", {{"rss_bytes", process_rss_bytes()}}},
             {"catalog", catalog}});
}

void handle_metrics(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  res.status = 200;
  res.set_content(ctx.metrics.render(ctx.worker.health(), process_rss_bytes(), ctx.config.version) +
                      stage_metrics_text(ctx.config.remote_status.get()) + batch_metrics_text(ctx.config.batch_stats.get()),
                  "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace sdw::net
