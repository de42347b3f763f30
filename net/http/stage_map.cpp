// Stage map for /v1/models and /metrics (see stage_map.h).
#include "net/http/stage_map.h"

#include <sstream>

#include "net/http/metrics.h"

namespace sdw::net {

nlohmann::json stage_map_json(const RemoteStatus* status) {
  nlohmann::json out = nlohmann::json::object();
  const auto nodes = status ? status->snapshot() : std::vector<StageNodeState>{};
  const auto local = status ? status->local_fallbacks() : std::map<std::string, int64_t>{};
  for (const char* stage : {"encoder", "denoiser", "decoder"}) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& n : nodes) {
      if (n.stage != stage) continue;
      nlohmann::json j = {{"address", n.address},     {"state", n.state},          {"load", n.load},
                          {"in_flight", n.in_flight}, {"requests", n.requests},    {"failures", n.failures},
                          {"bytes_sent", n.bytes_sent}, {"bytes_received", n.bytes_received},
                          {"wire_ms", n.wire_ms},     {"stage_ms", n.stage_ms},    {"links", n.links},
                          {"links_up", n.links_up}};
      if (!n.transport.empty()) j["transport"] = n.transport;
      if (!n.reason.empty()) j["reason"] = n.reason;
      if (!n.device.empty()) j["device"] = n.device;
      if (!n.model.empty()) j["model"] = n.model;
      list.push_back(std::move(j));
    }
    nlohmann::json s = {{"placement", list.empty() ? "local" : "remote"}};
    if (!list.empty()) {
      s["nodes"] = std::move(list);
      const auto it = local.find(stage);
      s["local_fallbacks"] = it == local.end() ? 0 : it->second;
    }
    out[stage] = std::move(s);
  }
  return out;
}

std::string stage_metrics_text(const RemoteStatus* status) {
  if (!status) return "";
  const auto nodes = status->snapshot();
  if (nodes.empty()) return "";
  std::ostringstream os;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    os << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    for (const auto& n : nodes)
      os << name << "{stage=\"" << prometheus_label(n.stage) << "\",node=\"" << prometheus_label(n.address) << "\"} "
         << value(n) << "\n";
  };
  family("sdw_stage_node_up", "gauge", "1 while the node link is up (handshake done, heartbeats answered)",
         [](const StageNodeState& n) { return n.state == "up" ? 1 : 0; });
  family("sdw_stage_node_load", "gauge", "stage requests in flight on the node, as its last heartbeat said",
         [](const StageNodeState& n) { return n.load; });
  family("sdw_stage_node_requests_total", "counter", "stage requests sent to the node",
         [](const StageNodeState& n) { return n.requests; });
  family("sdw_stage_node_failures_total", "counter", "stage requests on the node that failed (including node loss)",
         [](const StageNodeState& n) { return n.failures; });
  family("sdw_stage_node_sent_bytes_total", "counter", "serialized request payload bytes sent to the node",
         [](const StageNodeState& n) { return n.bytes_sent; });
  family("sdw_stage_node_received_bytes_total", "counter", "serialized reply payload bytes received from the node",
         [](const StageNodeState& n) { return n.bytes_received; });
  family("sdw_stage_node_wire_seconds_total", "counter",
         "round-trip time of the node's requests minus the stage's own reported time",
         [](const StageNodeState& n) { return n.wire_ms / 1000.0; });
  os << "# HELP sdw_stage_local_fallbacks_total stage requests run in this process because no node of the stage was up\n"
     << "# TYPE sdw_stage_local_fallbacks_total counter\n";
  for (const auto& [stage, count] : status->local_fallbacks())
    os << "sdw_stage_local_fallbacks_total{stage=\"" << prometheus_label(stage) << "\"} " << count << "\n";
  return os.str();
}

}  // namespace sdw::net
