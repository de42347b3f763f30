// `sd-worker serve` end to end, a worker's own process in each case: 429 when the queue is full,
// the rbee-hive spawn form and graceful shutdown on SIGTERM, a model that fails to load (503s),
// and a failing job (an error event, the [ERROR] marker, the failed state).
#include <catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "e2e/http_e2e_checks.h"
#include "e2e/http_harness.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test;
using namespace sdw::test::http_e2e;
using nlohmann::json;

TEST_CASE("429 when the queue is full", "[http][e2e][queue]") {
  WorkerProcess w({"--min-side", "64", "--queue-size", "1"});
  const int port = w.port();
  const std::string running = submit(port, demo_job(150, 1));
  const std::string queued = submit(port, demo_job(150, 2));
  const HttpReply full = post_json(port, demo_job(2, 3));
  check_error(full, 429, "QUEUE_FULL");
  CHECK(full.body["error"]["type"] == "rate_limit_error");
  CHECK(full.header("Retry-After") == "1");
  CHECK_THAT(http_get(port, "/metrics").raw, Catch::Contains("sdw_jobs_rejected_total{code=\"QUEUE_FULL\"} 1"));
  CHECK(http_delete(port, "/v1/jobs/" + queued).status == 200);
  CHECK(http_delete(port, "/v1/jobs/" + running).status == 200);
  const std::string after = submit(port, demo_job(2, 4));
  CHECK(wait_for_state(port, after, "completed") == "completed");
}

TEST_CASE("rbee-hive spawn form; SIGTERM shuts down gracefully", "[http][e2e][shutdown]") {
  WorkerProcess w({"--worker-id", "worker-cpu-test", "--model", "demo", "--min-side", "64", "--shutdown-grace-s", "1"}, {},
                  /*serve_word=*/false);
  const int port = w.port();
  CHECK(http_get(port, "/info").body["id"] == "worker-cpu-test");
  const std::string id = submit(port, demo_job(150, 8));
  std::atomic<bool> started{false};
  SseStream s;
  std::thread reader([&] {
    s = read_sse(port, stream_path(id), {}, [&](const SseEvent& e) {
      if (e.event == "progress") started = true;
      return true;
    });
  });
  for (int i = 0; i < 3000 && !started; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(started);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = w.stop(std::chrono::seconds(60));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  reader.join();
  INFO(w.log());
  CHECK(code == 0);
  CHECK(seconds < 20);
  REQUIRE(s.markers.size() == 1);  // the stream ended with its marker, not a cut connection
  CHECK((s.markers[0] == "[DONE]" || s.markers[0] == "[CANCELLED]"));
  CHECK_THAT(w.log(), Catch::Contains("shutting down"));
}

TEST_CASE("a model that fails to load: /ready and /health say so, jobs are 503", "[http][e2e][ready]") {
  WorkerProcess w({"--model", "/nonexistent/model-folder", "--min-side", "64"}, {}, true,
                  WorkerProcess::WaitFor::listening);
  const int port = w.port();
  HttpReply ready;
  for (int i = 0; i < 600; ++i) {  // bounded: the load fails within moments
    ready = http_get(port, "/ready");
    if (ready.status == 503 && ready.body.value("reason", "").find("loading") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO(w.log());
  CHECK(ready.status == 503);
  CHECK(ready.body["ready"] == false);
  // The routes that need no token name the model, not its path (the log keeps the path).
  CHECK_THAT(ready.body.value("reason", ""), Catch::Contains("model-folder"));
  CHECK_THAT(ready.body.value("reason", ""), !Catch::Contains("/nonexistent"));
  CHECK_THAT(w.log(), Catch::Contains("/nonexistent/model-folder"));
  const HttpReply health = http_get(port, "/health");
  CHECK(health.status == 503);
  CHECK(health.body["status"] == "unhealthy");
  CHECK_THAT(health.body.value("reason", ""), Catch::Contains("model-folder"));
  CHECK_THAT(health.body.value("reason", ""), !Catch::Contains("/nonexistent"));
  CHECK(http_get(port, "/info").body["status"] == "stopped");
  const HttpReply models = http_get(port, "/v1/models");
  REQUIRE(models.status == 200);
  CHECK(models.body["data"][0]["status"] == "failed");
  CHECK(models.body["data"][0]["loaded"] == false);
  CHECK(models.body["data"][0]["devices"][0]["state"] == "failed");
  CHECK_THAT(models.body["data"][0]["error"].get<std::string>(), Catch::Contains("nonexistent"));
  json job = demo_job();
  job["model"] = "/nonexistent/model-folder";
  const HttpReply r = post_json(port, job);
  check_error(r, 503, "NOT_READY");
  CHECK(r.header("Retry-After") == "1");
  CHECK(w.stop() == 0);
}

TEST_CASE("a job that fails: error event, [ERROR] marker, failed state", "[http][e2e][sse]") {
  WorkerProcess w({"--min-side", "64", "--job-timeout-s", "1"});
  const int port = w.port();
  json job = demo_job(150, 31);  // 150 steps at 128x128: well past its 1 s deadline
  job["width"] = job["height"] = 128;
  const std::string id = submit(port, job);
  const SseStream s = read_sse(port, stream_path(id));
  check_stream_shape(s, "[ERROR] ");
  const auto errors = s.named("error");
  REQUIRE(errors.size() == 1);
  const json e = errors[0].json();
  CHECK(e["job_id"] == id);
  CHECK(e["code"] == "timeout");
  CHECK_THAT(e["message"].get<std::string>(), Catch::Contains("deadline"));
  CHECK(s.markers[0] == "[ERROR] " + e["message"].get<std::string>());
  CHECK(s.named("complete").empty());
  const HttpReply st = http_get(port, "/v1/jobs/" + id);
  CHECK(st.body["state"] == "failed");
  CHECK_THAT(st.body.value("error", ""), Catch::Contains("deadline"));
  check_error(http_delete(port, "/v1/jobs/" + id), 409, "JOB_ALREADY_FINISHED");
}
