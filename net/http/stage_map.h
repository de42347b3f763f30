// The remote stages of a front worker (serve --stage; docs/distributed.md) as GET /v1/models
// shows them (the model's "stages" member) and as /metrics lines: each node link's state, load,
// requests, failures, bytes and time on the wire, and the requests that ran locally instead.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "actors/remote_types.h"

namespace sdw::net {

// {"encoder": {"placement": "local"}, "denoiser": {"placement": "remote", "nodes": [...]}, ...}
nlohmann::json stage_map_json(const RemoteStatus* status);
// Prometheus text lines (sdw_stage_node_* with stage and node labels); "" without remote stages.
std::string stage_metrics_text(const RemoteStatus* status);

}  // namespace sdw::net
