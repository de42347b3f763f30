// Handlers of the service routes: liveness (`/`, `/health`), readiness (`/ready`), worker
// identity (`/info`, rbee's WorkerInfo) and Prometheus metrics (`/metrics`).
#pragma once

#include "net/server_context.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace sdw::net {

// 200 {"status":"healthy"} while serving (also while the model loads); 503
// {"status":"unhealthy","reason":...} when shutting down or the model failed to load.
void handle_health(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
// 200 {"ready":true} / 503 {"ready":false,"reason":...}.
void handle_ready(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
// {"id","model_id","device","port","status","implementation":"sd-worker-cpp","version"}.
void handle_info(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_metrics(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace sdw::net
