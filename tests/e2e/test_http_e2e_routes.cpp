// `sd-worker serve` end to end, its routes: the real binary on a loopback port with the demo
// model, driven by a real HTTP client. The service routes (/, /health, /ready, /info, /metrics,
// unknown routes, request ids), GET /v1/models, path tricks and malformed HTTP answered with the
// error shape, CORS, and bearer auth on and off. A job's life over HTTP is in test_http_e2e.cpp.
#include <catch.hpp>

#include <cstdio>

#include "e2e/http_e2e_checks.h"
#include "e2e/http_harness.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test;
using namespace sdw::test::http_e2e;
using nlohmann::json;

TEST_CASE("service routes: /, /health, /ready, /info, /metrics, unknown routes", "[http][e2e]") {
  WorkerProcess& w = shared_server();
  const int port = w.port();
  for (const char* path : {"/", "/health"}) {
    const HttpReply r = http_get(port, path);
    CHECK(r.status == 200);
    CHECK(r.body == json({{"status", "healthy"}}));
  }
  const HttpReply ready = http_get(port, "/ready");
  CHECK(ready.status == 200);
  CHECK(ready.body == json({{"ready", true}}));

  const HttpReply info = http_get(port, "/info");
  REQUIRE(info.status == 200);
  CHECK(info.body["model_id"] == "demo");
  CHECK(info.body["device"] == "cpu");
  CHECK(info.body["port"] == port);
  CHECK(info.body["implementation"] == "sd-worker-cpp");
  CHECK(info.body["version"].is_string());
  CHECK(info.body["id"].is_string());
  const std::string status = info.body["status"];
  CHECK((status == "ready" || status == "busy"));

  const HttpReply metrics = http_get(port, "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.header("Content-Type").find("text/plain") == 0);
  CHECK_THAT(metrics.raw, Catch::Contains("sdw_model_ready 1"));
  CHECK_THAT(metrics.raw, Catch::Contains("sdw_model_load_seconds "));
  CHECK_THAT(metrics.raw, Catch::Contains("process_resident_memory_bytes "));

  check_error(http_get(port, "/nope"), 404, "ROUTE_NOT_FOUND");
  check_error(http_get(port, "/v1/jobs"), 405, "METHOD_NOT_ALLOWED");
  CHECK_THAT(http_get(port, "/v1/jobs").header("Allow"), Catch::Contains("POST"));
  check_error(http_delete(port, "/health"), 405, "METHOD_NOT_ALLOWED");

  // X-Request-Id: echoed when sane, in the header and in error bodies; made otherwise.
  const HttpReply echoed = http_get(port, "/nope", {{"X-Request-Id", "trace-42"}});
  CHECK(echoed.header("X-Request-Id") == "trace-42");
  CHECK(echoed.body["error"]["request_id"] == "trace-42");
  const HttpReply made = http_get(port, "/health", {{"X-Request-Id", "bad id with spaces"}});
  CHECK(made.header("X-Request-Id").rfind("req-", 0) == 0);
  CHECK(http_get(port, "/health").header("X-Request-Id") != http_get(port, "/health").header("X-Request-Id"));
}

TEST_CASE("GET /v1/models: the served model, its memory per device, and the catalog", "[http][e2e][models]") {
  WorkerProcess& w = shared_server();
  const HttpReply r = http_get(w.port(), "/v1/models");
  INFO(r.raw);
  REQUIRE(r.status == 200);
  CHECK(r.body["object"] == "list");
  REQUIRE(r.body["data"].size() == 1);
  const json& m = r.body["data"][0];
  CHECK(m["id"] == "demo");
  CHECK(m["object"] == "model");
  CHECK(m["status"] == "loaded");
  CHECK(m["loaded"] == true);
  CHECK(m["dtype"] == "fp32");
  CHECK(m["family"] == "demo");
  CHECK(m["default_width"].get<int>() > 0);
  CHECK(m["default_steps"].get<int>() > 0);
  REQUIRE(m["devices"].size() == 1);
  const json& d = m["devices"][0];
  CHECK(d["device"] == "cpu");
  CHECK(d["state"] == "ready");
  // The demo model's weights are tens of MiB in fp32; the estimate adds activations on top.
  const int64_t weights = d["weight_bytes"], estimate = d["estimate_bytes"];
  CHECK(weights > (1 << 20));
  CHECK(weights < (1LL << 30));
  CHECK(estimate > weights);
  CHECK(d["available_bytes"].get<int64_t>() > estimate);  // CPU: MemAvailable it was checked against
  CHECK(m["memory"]["weight_bytes"] == weights);
  CHECK(r.body["process"]["rss_bytes"].get<int64_t>() > weights);
  // The catalog: rbee's version names with their repos and a memory estimate per dtype.
  bool v15 = false;
  for (const auto& e : r.body["catalog"]) {
    CHECK(e["estimate_bytes"]["fp16"].get<int64_t>() < e["estimate_bytes"]["fp32"].get<int64_t>());
    if (e["version"] == "v1-5") {
      v15 = true;
      CHECK(e["repo"] == "runwayml/stable-diffusion-v1-5");
      CHECK(e["family"] == "sd1");
      // SD1.5 in fp16: about 2 GiB of weights (VAE in fp32) plus activations at 512x512.
      CHECK(e["estimate_bytes"]["fp16"].get<int64_t>() > (2LL << 30));
      CHECK(e["estimate_bytes"]["fp16"].get<int64_t>() < (4LL << 30));
    }
  }
  CHECK(v15);
}

TEST_CASE("path tricks and malformed HTTP are 4xx with the error shape", "[http][e2e][validation]") {
  const int port = shared_server().port();
  const std::vector<std::string> get_paths = {
      "/v1/jobs/..%2F..", "/v1/jobs/..%2F..%2F..%2Fetc%2Fpasswd", "/v1/jobs/..", "/v1/jobs/%2e%2e/stream",
      "/v1/jobs/..%2F..%2Fhealth/stream", "/v1/jobs/%00", "/v1/jobs/job-%00/stream", "/v1/jobs/" + std::string(3000, 'a'),
      "/v1/jobs/job-x/stream/extra", "/v1/jobs/a%20b", "/v1//jobs", "/v1/jobs/%ff%fe",
      "/v1/jobs/job-00000000-0000-4000-8000-000000000000", "/v1/jobs/job-00000000-0000-4000-8000-000000000000/stream"};
  for (const auto& path : get_paths) {
    INFO(path.substr(0, 80));
    const HttpReply r = http_get(port, path);
    CHECK(r.status >= 400);
    CHECK(r.status < 500);
    check_error(r, r.status, r.body.is_object() ? r.body["error"].value("code", "?") : "?");
  }
  check_error(http_get(port, "/v1/jobs/job-00000000-0000-4000-8000-000000000000"), 404, "JOB_NOT_FOUND");
  check_error(http_get(port, "/v1/jobs/..%2F..%2Fetc%2Fpasswd/stream"), 404, "ROUTE_NOT_FOUND");
  check_error(http_delete(port, "/v1/jobs/.."), 404, "JOB_NOT_FOUND");
  check_error(http_delete(port, "/v1/jobs/..%2F.."), 404, "ROUTE_NOT_FOUND");

  const std::string garbage = raw_exchange(port, "GARBAGE\r\n");
  CHECK(garbage.rfind("HTTP/1.1 400", 0) == 0);
  CHECK_THAT(garbage, Catch::Contains("\"error\""));
  const std::string long_uri = raw_exchange(port, "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(long_uri.rfind("HTTP/1.1 414", 0) == 0);
  CHECK_THAT(long_uri, Catch::Contains("URI_TOO_LONG"));
  // Ambiguous framing (request smuggling behind a proxy) is refused, not served.
  const std::string body = demo_job().dump();
  const std::string head = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  const std::string chunked = [&] {
    char size[16];
    std::snprintf(size, sizeof size, "%zx", body.size());
    return std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n";
  }();
  for (const std::string& framing :
       {"Content-Length: " + std::to_string(body.size()) + "\r\nContent-Length: " + std::to_string(body.size() + 5) +
            "\r\n\r\n" + body,
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + chunked,
        "Transfer-Encoding: CHUNKED\r\nContent-Length: 5\r\n\r\n" + chunked,
        "Transfer-Encoding:\tchunked\r\nContent-Length: 5\r\n\r\n" + chunked}) {
    const std::string reply = raw_exchange(port, head + framing);
    INFO(framing.substr(0, 60));
    CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
    CHECK_THAT(reply, Catch::Contains("BAD_FRAMING"));
  }
  check_still_serving(port);
}

TEST_CASE("CORS: allowed origin echoed, preflight answered, others get nothing", "[http][e2e][cors]") {
  const int port = shared_server().port();
  httplib::Client cli("127.0.0.1", port);
  auto pre = cli.Options("/v1/jobs", {{"Origin", kAllowedOrigin},
                                      {"Access-Control-Request-Method", "POST"},
                                      {"Access-Control-Request-Headers", "content-type"}});
  REQUIRE(pre);
  CHECK(pre->status == 204);
  CHECK(pre->get_header_value("Access-Control-Allow-Origin") == kAllowedOrigin);
  CHECK(pre->get_header_value("Access-Control-Allow-Credentials") == "true");
  CHECK(pre->get_header_value("Vary") == "Origin");
  CHECK_THAT(pre->get_header_value("Access-Control-Allow-Methods"), Catch::Contains("POST"));
  CHECK_THAT(pre->get_header_value("Access-Control-Allow-Headers"), Catch::Contains("Content-Type"));
  auto other = cli.Options("/v1/jobs", {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  REQUIRE(other);
  CHECK_FALSE(other->has_header("Access-Control-Allow-Origin"));
  CHECK(http_get(port, "/health", {{"Origin", kAllowedOrigin}}).header("Access-Control-Allow-Origin") == kAllowedOrigin);
  CHECK(http_get(port, "/nope", {{"Origin", kAllowedOrigin}}).header("Access-Control-Allow-Origin") == kAllowedOrigin);
  CHECK(http_get(port, "/health", {{"Origin", "http://evil.example"}}).header("Access-Control-Allow-Origin").empty());
  CHECK(http_get(port, "/health").header("Access-Control-Allow-Origin").empty());
}

TEST_CASE("bearer auth (LLORCH_API_TOKEN): health routes open, everything else 401", "[http][e2e][auth]") {
  WorkerProcess w({"--min-side", "64"}, {{"LLORCH_API_TOKEN", "s3cret-token"}});
  const int port = w.port();
  for (const char* path : {"/", "/health", "/ready"}) CHECK(http_get(port, path).status == 200);

  const std::string unknown = "/v1/jobs/job-00000000-0000-4000-8000-000000000000";
  const httplib::Headers wrong = {{"Authorization", "Bearer nope"}};
  const httplib::Headers right = {{"Authorization", "Bearer s3cret-token"}};
  for (const auto& headers : {httplib::Headers{}, wrong}) {
    const std::string code = headers.empty() ? "MISSING_API_KEY" : "INVALID_API_KEY";
    std::vector<HttpReply> replies = {http_get(port, "/info", headers), http_get(port, "/metrics", headers), http_get(port, "/v1/models", headers),
                                      post_json(port, demo_job(), headers), http_get(port, unknown, headers),
                                      http_get(port, unknown + "/stream", headers), http_delete(port, unknown, headers)};
    for (const auto& r : replies) {
      check_error(r, 401, code);
      CHECK(r.body["error"]["type"] == "authentication_error");
      CHECK(r.header("WWW-Authenticate") == "Bearer");
    }
  }
  CHECK(http_get(port, "/info", {{"Authorization", "bearer s3cret-token"}}).status == 200);
  const std::string id = submit(port, demo_job(3, 21), right);
  const SseStream s = read_sse(port, stream_path(id), right);
  check_stream_shape(s, "[DONE]");
  CHECK(http_get(port, "/v1/jobs/" + id, right).body["state"] == "completed");
  CHECK(http_get(port, "/metrics", right).status == 200);

  // A refused body on a keep-alive connection leaves the connection usable.
  httplib::Client cli("127.0.0.1", port);
  cli.set_keep_alive(true);
  auto r1 = cli.Post("/v1/jobs", demo_job().dump(), "application/json");
  REQUIRE(r1);
  CHECK(r1->status == 401);
  auto r2 = cli.Get("/health");
  REQUIRE(r2);
  CHECK(r2->status == 200);
  CHECK(r2->body == "{\"status\":\"healthy\"}");
  auto r3 = cli.Post("/v1/jobs", right, demo_job(2, 1).dump(), "application/json");
  REQUIRE(r3);
  CHECK(r3->status == 200);
}
