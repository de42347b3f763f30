// Helpers shared by the distributed e2e tests (test_distributed_e2e.cpp, test_distributed_tls_e2e.cpp):
// a secret file, a seeded tiny-SD1.5 job, a front worker's arguments, running a job to its end,
// and reading the stage map of /v1/models (polled until the node links settle, bounded).
// Header-only, like the other e2e helpers.
#pragma once

#include <catch.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "e2e/http_harness.h"
#include "model/image/image_io.h"
#include "test_util.h"

namespace sdw::test::distributed {

using nlohmann::json;


// The front's defaults (--node-heartbeat-ms 500, --node-heartbeat-timeout-ms 2000): a node
// that goes silent fails its jobs within timeout + interval; 0.5 s more for the error to reach
// the job's stream.
inline constexpr double kBoundSeconds = 2.0 + 0.5 + 0.5;

inline std::string tiny() { return fixture("pipelines/tiny-sd15"); }

inline std::string secret_file(const TempDir& tmp, const std::string& name, const std::string& secret) {
  const std::string path = tmp.file(name);
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(secret.c_str(), f);
  std::fclose(f);
  return path;
}

inline json job(int steps, uint64_t seed) {
  return {{"operation", "image_generation"}, {"hive_id", "h"},     {"model", "tiny-sd15"},
          {"prompt", "a red cube on a table"}, {"negative_prompt", "blurry"}, {"width", 32},
          {"height", 32},                      {"steps", steps},   {"guidance_scale", 7.5},
          {"seed", seed}};
}

inline std::vector<std::string> front_args(std::vector<std::string> extra) {
  std::vector<std::string> a = {"--model", tiny(), "--min-side", "16", "--max-steps", "1000"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// Runs one job to its end; returns its terminal event's JSON and name.
inline std::pair<std::string, json> run_job(int port, const json& body, std::function<bool(const SseEvent&)> on_event = {}) {
  const HttpReply accepted = post_json(port, body);
  INFO(accepted.raw);
  REQUIRE(accepted.status == 200);
  const SseStream s = read_sse(port, "/v1/jobs/" + accepted.body["job_id"].get<std::string>() + "/stream", {}, on_event);
  for (const char* name : {"complete", "error", "cancelled"})
    if (!s.named(name).empty()) return {name, s.named(name).back().json()};
  FAIL("no terminal event: " << s.raw);
  return {};
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string png_of(const json& complete) { return decode_base64(complete["image"].get<std::string>()); }

inline json stages(int port) {
  const HttpReply r = http_get(port, "/v1/models");
  REQUIRE(r.status == 200);
  return r.body["data"][0]["stages"];
}

// Polls /v1/models until every node of `stage` has left "connecting" (bounded); returns them.
inline json settled_nodes(int port, const std::string& stage) {
  for (int i = 0; i < 400; ++i) {
    const json nodes = stages(port)[stage]["nodes"];
    bool settled = !nodes.empty();
    for (const auto& n : nodes) settled = settled && n["state"] != "connecting";
    if (settled) return nodes;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  FAIL("the " << stage << " nodes did not settle: " << stages(port).dump());
  return {};
}

inline json node_entry(int port, const std::string& stage, const std::string& address) {
  const json map = stages(port);
  for (const auto& n : map[stage]["nodes"])
    if (n["address"] == address) return n;
  FAIL("no " << stage << " node " << address);
  return {};
}

inline std::string single_process_png(const json& body) {
  WorkerProcess w(front_args({}));
  auto [name, ev] = run_job(w.port(), body);
  REQUIRE(name == "complete");
  return png_of(ev);
}

}  // namespace sdw::test::distributed
