// Helpers shared by the `sd-worker serve` HTTP e2e tests (test_http_e2e*.cpp): the shared server, job submission, error and stream checks. Header-only.
#pragma once

#include <catch.hpp>

#include <regex>
#include <string>

#include "e2e/http_harness.h"
#include "test_util.h"

namespace sdw::test::http_e2e {

using nlohmann::json;

inline const std::string kAllowedOrigin = "http://allowed.example:8000";

// One server for most cases: no auth, small sides allowed, a 2 MiB body limit, fast keep-alives.
inline WorkerProcess& shared_server() {
  static WorkerProcess server({"--min-side", "64", "--max-body-bytes", "2097152", "--sse-keepalive-ms", "200",
                               "--queue-size", "16", "--cors-origin", kAllowedOrigin});
  return server;
}

// The error shape, the status and the request id (header and body agree).
inline void check_error(const HttpReply& r, int status, const std::string& code) {
  INFO("status " << r.status << " body " << r.raw.substr(0, 400));
  CHECK(r.status == status);
  REQUIRE(r.body.is_object());
  REQUIRE(r.body.contains("error"));
  const json& e = r.body["error"];
  CHECK(e["code"] == code);
  CHECK(e["message"].is_string());
  CHECK_FALSE(e["message"].get<std::string>().empty());
  CHECK(e["type"].is_string());
  CHECK(e["request_id"].is_string());
  CHECK(e["request_id"] == r.header("X-Request-Id"));
  CHECK(r.header("Content-Type").find("application/json") == 0);
}

inline void check_still_serving(int port) {
  const HttpReply h = http_get(port, "/health");
  CHECK(h.status == 200);
  CHECK(h.body == json({{"status", "healthy"}}));
}

inline std::string submit(int port, const json& body, const httplib::Headers& headers = {}) {
  const HttpReply r = post_json(port, body, headers);
  INFO(r.raw);
  REQUIRE(r.status == 200);
  const std::string id = r.body.at("job_id");
  CHECK(std::regex_match(id, std::regex("job-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  CHECK(r.body.at("sse_url") == "/v1/jobs/" + id + "/stream");
  return id;
}

inline std::string stream_path(const std::string& id) { return "/v1/jobs/" + id + "/stream"; }

// A full stream's invariants: 200 text/event-stream, ids 1..n in order, one marker, last.
inline void check_stream_shape(const SseStream& s, const std::string& marker_prefix) {
  INFO(s.raw.substr(0, 2000));
  CHECK(s.status == 200);
  CHECK(s.content_type.find("text/event-stream") == 0);
  REQUIRE(s.markers.size() == 1);
  CHECK(s.markers[0].rfind(marker_prefix, 0) == 0);
  REQUIRE_FALSE(s.events.empty());
  CHECK(s.events.back().data == s.markers[0]);
  CHECK_FALSE(s.data_after_marker);
  for (size_t i = 0; i < s.events.size(); ++i) CHECK(s.events[i].id == std::to_string(i + 1));
  for (size_t i = 0; i + 1 < s.events.size(); ++i) {
    const std::string& name = s.events[i].event;
    CHECK((name == "progress" || name == "preview" || name == "complete" || name == "error" || name == "narration"));
    CHECK(s.events[i].json().is_object());
    CHECK(s.events[i].json()["type"] == name);
  }
}

}  // namespace sdw::test::http_e2e
