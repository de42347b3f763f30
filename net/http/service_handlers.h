// Handlers of the service routes: liveness (`/`, `/health`), readiness (`/ready`), worker
// identity (`/info`, rbee's WorkerInfo), the served model (`/v1/models`) and Prometheus metrics
// (`/metrics`).
#pragma once

#include "net/http/handler.h"

namespace sdw::net {

// 200 {"status":"healthy"} while serving (also while the model loads); 503
// {"status":"unhealthy","reason":...} when shutting down or the model failed to load.
void handle_health(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
// 200 {"ready":true} / 503 {"ready":false,"reason":...}.
void handle_ready(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
// {"id","model_id","device","port","status","implementation":"sd-worker-cpp","version"}.
void handle_info(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_metrics(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
// {"object":"list","data":[the served model: id, aliases, status, dtype, family, defaults, per-device
// state with weight and estimated memory], "process":{"rss_bytes"}, "catalog":[versions this worker
// can be started with, with repo, defaults and memory estimates per dtype]}.
void handle_models(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace sdw::net
