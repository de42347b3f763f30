// The plain-C++ side of remote stages (no CAF): which stages a front worker sends to which nodes
// (serve --stage STAGE=HOST:PORT, --secret FILE [--tls-*] | --insecure-plaintext), and the live state of
// each node link that /v1/models and /metrics show (RemoteStatus, shared by the stage routers of
// every device and read by net/).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "actors/node_tls.h"

namespace sdw {

// One `--stage STAGE=HOST:PORT`. Several entries for one stage are replicas of it.
struct StageNodeAddress {
  std::string stage;  // encoder | denoiser | decoder
  std::string host;
  uint16_t port = 0;
  std::string address() const { return host + ":" + std::to_string(port); }
};

struct RemoteStagesConfig {
  std::vector<StageNodeAddress> nodes;  // empty: every stage runs in this process
  // The shared secret of the HMAC challenge/response (both sides prove they hold it); empty only
  // with insecure_plaintext, where a node is used without any authentication.
  std::string secret;
  bool insecure_plaintext = false;  // plain TCP; else TLS through CAF's OpenSSL module (node_tls.h)
  NodeTlsFiles tls;                 // --tls-cert/--tls-key/--tls-ca (none: anonymous-ECDH TLS)
  // A node link is pinged every `heartbeat_interval`; no answer for `heartbeat_timeout` declares
  // it down (a dropped connection does at once). A job on a node that goes down fails within
  // heartbeat_timeout + heartbeat_interval of the node's last sign of life.
  std::chrono::milliseconds heartbeat_interval{500};
  std::chrono::milliseconds heartbeat_timeout{2000};
  // A node that is down or refused is tried again this often.
  std::chrono::milliseconds reconnect_interval{1000};
  bool any() const { return !nodes.empty(); }
  bool has(const std::string& stage) const {
    for (const auto& n : nodes)
      if (n.stage == stage) return true;
    return false;
  }
};

// "encoder=127.0.0.1:7000" -> a StageNodeAddress; throws std::invalid_argument naming what is wrong.
StageNodeAddress parse_stage_node(const std::string& text);

// One node of one stage, as /v1/models and /metrics show it. Each device slot's router keeps its
// own link to the node; the entry shown joins them (RemoteStatus::snapshot).
struct StageNodeState {
  std::string stage, address;
  std::string state = "connecting";  // connecting | up | down | refused
  std::string transport;             // plaintext | tls | tls+cert (node_tls.h)
  std::string reason;                // why down / refused ("" when up)
  std::string device, model, family, dtype;  // the node's, once it answered
  int32_t load = 0;                  // the node's own count of stage requests in flight (heartbeat)
  int32_t in_flight = 0;             // this front worker's requests on it now
  int64_t requests = 0, failures = 0;
  int64_t bytes_sent = 0, bytes_received = 0;  // serialized message payloads, both directions
  double wire_ms = 0;   // round trips minus the stage's own reported time, summed
  double stage_ms = 0;  // the stage's own reported time, summed
  int32_t links = 1, links_up = 0;  // this process's links to the node (one per device slot), and those up
};

// Every node link of this process (thread-safe; routers write, net/ reads snapshots).
class RemoteStatus {
 public:
  // The entry of `owner`'s (a router's) link to the `stage` node at `address`.
  template <class F>
  void update(const std::string& stage, const std::string& address, uint64_t owner, F&& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    StageNodeState& s = links_[{stage, address, owner}];
    s.stage = stage;
    s.address = address;
    f(s);
  }
  // The requests in flight on `address` from this process, all stages and devices together.
  int32_t in_flight(const std::string& address) const {
    std::lock_guard<std::mutex> lock(mutex_);
    int32_t n = 0;
    for (const auto& [key, s] : links_)
      if (s.address == address) n += s.in_flight;
    return n;
  }
  // One entry per stage and node: the links of every device slot joined. The node is "up" while
  // any link to it is up (jobs can use it), else the first link's state in the order connecting,
  // refused, down (with that link's reason); counters are summed, the node's own load is the
  // latest heartbeat's (the largest reading).
  std::vector<StageNodeState> snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::pair<std::string, std::string>, StageNodeState> joined;
    for (const auto& [key, s] : links_) {
      auto [it, first] = joined.try_emplace({s.stage, s.address}, s);
      StageNodeState& j = it->second;
      if (first) {
        j.links_up = s.state == "up" ? 1 : 0;
        continue;
      }
      j.links += 1;
      j.links_up += s.state == "up" ? 1 : 0;
      if (rank(s.state) < rank(j.state)) {
        j.state = s.state;
        j.reason = s.reason;
      }
      if (j.device.empty()) j.device = s.device, j.model = s.model, j.family = s.family, j.dtype = s.dtype;
      if (j.transport.empty()) j.transport = s.transport;
      j.load = std::max(j.load, s.load);
      j.in_flight += s.in_flight;
      j.requests += s.requests;
      j.failures += s.failures;
      j.bytes_sent += s.bytes_sent;
      j.bytes_received += s.bytes_received;
      j.wire_ms += s.wire_ms;
      j.stage_ms += s.stage_ms;
    }
    std::vector<StageNodeState> out;
    for (auto& [key, s] : joined) {
      if (s.state == "up") s.reason.clear();
      out.push_back(std::move(s));
    }
    return out;
  }
  // Requests that ran in this process because no node of their stage was up.
  void count_local(const std::string& stage) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++local_fallbacks_[stage];
  }
  std::map<std::string, int64_t> local_fallbacks() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return local_fallbacks_;
  }

 private:
  static int rank(const std::string& state) {
    return state == "up" ? 0 : state == "connecting" ? 1 : state == "refused" ? 2 : 3;
  }
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, uint64_t>, StageNodeState> links_;  // stage, address, router
  std::map<std::string, int64_t> local_fallbacks_;
};

}  // namespace sdw
