// Service route handlers (see service_handlers.h).
#include "net/service_handlers.h"

#include <httplib.h>

#include "net/errors.h"

namespace sdw::net {
namespace {

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

// rbee's WorkerInfo statuses: starting | ready | busy | stopping | stopped.
std::string rbee_status(const WorkerHealth& h) {
  if (h.status == "failed") return "stopped";
  return h.status.empty() ? (h.ready ? "ready" : "starting") : h.status;
}

}  // namespace

void handle_health(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  const WorkerHealth h = ctx.worker.health();
  if (h.status == "stopping" || h.status == "stopped")
    return send_json(res, 503, {{"status", "unhealthy"}, {"reason", "shutting down"}});
  if (h.status == "failed")
    return send_json(res, 503, {{"status", "unhealthy"}, {"reason", h.reason.empty() ? "model failed to load" : h.reason}});
  send_json(res, 200, {{"status", "healthy"}});
}

void handle_ready(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  const WorkerHealth h = ctx.worker.health();
  if (h.ready) return send_json(res, 200, {{"ready", true}});
  std::string reason = h.reason;
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

void handle_metrics(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  res.status = 200;
  res.set_content(ctx.metrics.render(ctx.worker.health(), process_rss_bytes(), ctx.config.version),
                  "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace sdw::net
