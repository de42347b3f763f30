// Continuous batching through the real worker (`serve --max-batch 4`, HTTP on loopback): jobs that
// wait together share the denoiser's UNet calls, a job joins the batch at its own step count and
// leaves when done, and every image equals the one the same job gets alone (max pixel difference
// <= 1: the batched matmuls round differently), while /metrics shows the batch sizes used.
#include <catch.hpp>

#include <cstdlib>
#include <map>
#include <regex>
#include <thread>

#include "e2e/http_harness.h"
#include "model/image/image_io.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw::test;
using nlohmann::json;

namespace {

std::string submit(int port, const json& body) {
  const HttpReply r = post_json(port, body);
  INFO(r.raw);
  REQUIRE(r.status == 200);
  return r.body.at("job_id").get<std::string>();
}

// The job's images (all of them), read from its SSE stream's complete event.
std::vector<sdw::Image> images_of(int port, const std::string& id) {
  const SseStream s = read_sse(port, "/v1/jobs/" + id + "/stream");
  INFO(s.raw.substr(0, 2000));
  REQUIRE(s.named("complete").size() == 1);
  const json c = s.named("complete")[0].json();
  std::vector<sdw::Image> out;
  if (c.contains("images")) {
    for (const auto& b64 : c["images"]) out.push_back(sdw::decode_image_base64(b64.get<std::string>()));
  } else {
    out.push_back(sdw::decode_image_base64(c.at("image").get<std::string>()));
  }
  return out;
}

// sdw_denoiser_steps_total{jobs="N"} by N.
std::map<int, double> batch_counts(int port) {
  const HttpReply m = http_get(port, "/metrics");
  REQUIRE(m.status == 200);
  std::map<int, double> out;
  const std::regex line(R"re(sdw_denoiser_steps_total\{jobs="(\d+)"\} ([0-9.e+]+))re");
  for (auto it = std::sregex_iterator(m.raw.begin(), m.raw.end(), line); it != std::sregex_iterator(); ++it)
    out[std::stoi((*it)[1].str())] = std::stod((*it)[2].str());
  return out;
}

// Four jobs that may share UNet calls (64x64, CFG) with different seeds, samplers, guidance and
// image counts, and one without CFG (it interleaves, never shares a call with CFG jobs).
std::vector<json> jobs() {
  std::vector<json> out;
  json a = demo_job(8, 11);
  json b = demo_job(8, 22);
  b["scheduler"] = "dpmpp_2m_karras";
  b["guidance_scale"] = 4.0;
  json c = demo_job(6, 33);
  c["num_images"] = 2;
  c["scheduler"] = "euler_a";
  json d = demo_job(8, 44);
  d["scheduler"] = "ddim";
  json e = demo_job(5, 55);
  e["guidance_scale"] = 1.0;
  for (const json& j : {a, b, c, d, e}) out.push_back(j);
  return out;
}

}  // namespace

TEST_CASE("concurrent jobs are denoised in shared batches and each image equals the job alone", "[batching]") {
  WorkerProcess w({"--model", "demo", "--min-side", "64", "--max-batch", "4", "--queue-size", "16"});
  const int port = w.port();
  const std::vector<json> bodies = jobs();

  // Alone: one job at a time (each waits for the previous one's images), so every step task
  // serves one job.
  std::vector<std::vector<sdw::Image>> alone;
  for (const json& body : bodies) alone.push_back(images_of(port, submit(port, body)));
  const std::map<int, double> after_alone = batch_counts(port);
  REQUIRE(after_alone.size() == 1);
  REQUIRE(after_alone.count(1) == 1);

  // Together: the first job starts, and the others are submitted once its second step is
  // reported, so they join its batch at their step 0 while it is further on.
  const std::string first = submit(port, bodies[0]);
  std::vector<std::string> ids{first};
  read_sse(port, "/v1/jobs/" + first + "/stream", {}, [&](const SseEvent& e) {
    if (e.event != "progress") return true;
    if (e.json().value("step", 0) < 2) return true;
    for (size_t i = 1; i < bodies.size(); ++i) ids.push_back(submit(port, bodies[i]));
    return false;  // drop the stream: the job goes on
  });
  REQUIRE(ids.size() == bodies.size());
  std::vector<std::vector<sdw::Image>> together;
  for (const auto& id : ids) together.push_back(images_of(port, id));

  for (size_t j = 0; j < bodies.size(); ++j) {
    INFO("job " << j << ": " << bodies[j].dump());
    REQUIRE(together[j].size() == alone[j].size());
    for (size_t k = 0; k < alone[j].size(); ++k) {
      const int diff = sdw::test::max_pixel_diff(together[j][k], alone[j][k]);
      INFO("image " << k << " max pixel difference " << diff);
      CHECK(diff <= 1);
    }
  }
  // Different seeds give different images (the comparison above is not between equal images).
  CHECK(sdw::test::max_pixel_diff(alone[0][0], alone[1][0]) > 10);

  // Step tasks that served 2+ jobs at once happened, and none beyond --max-batch.
  const std::map<int, double> counts = batch_counts(port);
  double shared = 0;
  for (const auto& [jobs, n] : counts) {
    CHECK(jobs >= 1);
    CHECK(jobs <= 4);
    if (jobs >= 2) shared += n;
  }
  CHECK(shared >= 2);
  // The CFG jobs' 8 + 8 + 6 + 8 steps and the CFG-free job's 5 took fewer step tasks than the 35 of one at a time.
  const double tasks_together = [&] {
    double t = 0;
    for (const auto& [jobs, n] : counts) t += n;
    return t - after_alone.at(1);
  }();
  CHECK(tasks_together < 35);
  CHECK(w.alive());
}

TEST_CASE("a job cancelled inside a batch leaves it; the others finish with their own images", "[batching][cancel]") {
  WorkerProcess w({"--model", "demo", "--min-side", "64", "--max-batch", "3"});
  const int port = w.port();
  const json keep_a = demo_job(10, 71), victim = demo_job(10, 72), keep_b = demo_job(10, 73);
  const std::vector<sdw::Image> alone_a = images_of(port, submit(port, keep_a));
  const std::vector<sdw::Image> alone_b = images_of(port, submit(port, keep_b));

  const std::string a = submit(port, keep_a);
  const std::string v = submit(port, victim);
  const std::string b = submit(port, keep_b);
  // The victim is cancelled once it has made two steps (in the batch with the others).
  HttpReply cancel;
  read_sse(port, "/v1/jobs/" + v + "/stream", {}, [&](const SseEvent& e) {
    if (e.event != "progress" || e.json().value("step", 0) < 2) return true;
    cancel = http_delete(port, "/v1/jobs/" + v);
    return false;
  });
  CHECK(cancel.status == 200);
  CHECK(wait_for_state(port, v, "cancelled") == "cancelled");
  const std::vector<sdw::Image> together_a = images_of(port, a);
  const std::vector<sdw::Image> together_b = images_of(port, b);
  CHECK(sdw::test::max_pixel_diff(together_a.at(0), alone_a.at(0)) <= 1);
  CHECK(sdw::test::max_pixel_diff(together_b.at(0), alone_b.at(0)) <= 1);
  const std::map<int, double> counts = batch_counts(port);
  CHECK(counts.count(3) == 1);  // all three shared step tasks before the cancel
  CHECK(w.alive());
}
