// The actor layer through the Worker facade (actors/worker.h) over a real actor system: a job's
// event sequence on the demo model, on tiny-sd15 and on a single-file checkpoint, previews and JPEG
// output, two subscribers (one joining late), same-seed parity with the plain generate() pipeline
// and bounded memory over 500 jobs. Cancellation, the queue, validation and shutdown are in
// test_actors_control.cpp, failing stages in test_actors_failures.cpp, the writer in
// test_actors_writer.cpp. No sleeps: every wait is on an event stream, a reply or a future, with a
// timeout.
#include <catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>

#include "actors/actor_jobs.h"
#include "actors/worker.h"
#include "model/image/image_io.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/sd_model.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test::actor_jobs;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

int64_t rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

}  // namespace

TEST_CASE("a job's events on the demo model: queued - started - one progress per step - complete", "[actors]") {
  auto w = start_ready(demo_config());
  CHECK(w->health().ready);
  CHECK(w->health().status == "ready");
  const auto t0 = std::chrono::steady_clock::now();
  const std::string id = w->submit(small_job(4));
  CHECK(std::regex_match(id, std::regex("job-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  auto events = read_all(*w->subscribe(id));
  std::cout << "demo 64x64, 4 steps through the actors: "
            << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() << " ms\n";
  CHECK(types_of(events) == expected_types(4));
  for (const auto& e : events) {
    CHECK(e.job_id == id);
    if (e.type == JobEvent::Type::progress) CHECK(e.total == 4);
  }
  check_complete(events.back(), 64);
  CHECK(events.back().seed == 42);
  CHECK(events.back().scheduler == "EulerAncestralDiscreteScheduler");
  CHECK(events.back().denoise_ms > 0);
  // The A1111 parameters chunk.
  auto chunks = png_text_chunks(events.back().images[0].bytes);
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].first == "parameters");
  CHECK(chunks[0].second.find("Steps: 4, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 64x64, Model: demo") !=
        std::string::npos);
  JobStatus s = w->status(id);
  CHECK(s.state == JobState::completed);
  REQUIRE(s.result);
  CHECK(s.result->images.size() == 1);
  CHECK(w->health().jobs_completed == 1);
}

TEST_CASE("a job's events on tiny-sd15", "[actors]") {
  WorkerConfig c = demo_config();
  c.model = test::fixture("pipelines/tiny-sd15");
  auto w = start_ready(c);
  // tiny-sd15's VAE downsamples by 2: 32x32 images are 16x16 latents.
  auto events = run_job(*w, small_job(5, 7, 32));
  // tiny-sd15 uses PNDM, whose 5 steps are 6 UNet evaluations (diffusers' skip_prk_steps repeats one
  // timestep): one progress event per evaluation, with that total.
  REQUIRE(events.size() > 3);
  CHECK(events[2].total == 6);
  CHECK(types_of(events) == expected_types(6));
  check_complete(events.back(), 32);
  auto chunks = png_text_chunks(events.back().images[0].bytes);
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].second.find("Model: tiny-sd15") != std::string::npos);
}

TEST_CASE("a single-file checkpoint is served too", "[actors]") {
  WorkerConfig c = demo_config();
  c.model = test::fixture("single_file/tiny-sd15.safetensors");
  c.model_config_dir = test::fixture("pipelines/tiny-sd15");  // its (tiny) configs
  auto w = start_ready(c);
  auto events = run_job(*w, small_job(2, 7, 32));
  check_complete(events.back(), 32);
  CHECK(png_text_chunks(events.back().images[0].bytes).at(0).second.find("Model: tiny-sd15.safetensors") !=
        std::string::npos);
}

TEST_CASE("previews every N steps and JPEG output", "[actors]") {
  auto w = start_ready(demo_config());
  JobSubmission j = small_job(4);
  j.preview_every = 2;
  auto events = run_job(*w, j);
  CHECK(types_of(events) == "queued,started,progress1,progress2,preview2,progress3,progress4,narration,complete");
  for (const auto& e : events) {
    if (e.type != JobEvent::Type::preview) continue;
    REQUIRE(e.images.size() == 1);
    Image p = decode_image(e.images[0].bytes);
    CHECK(p.width == 8);  // latent resolution: the cheap latent -> RGB projection
    CHECK(p.height == 8);
  }
  JobSubmission jpeg = small_job(2);
  jpeg.output.format = "jpeg";
  jpeg.request.num_images = 2;
  events = run_job(*w, jpeg);
  REQUIRE(events.back().type == JobEvent::Type::complete);
  REQUIRE(events.back().images.size() == 2);
  for (const auto& img : events.back().images) {
    CHECK(img.format == "jpeg");
    CHECK(decode_image(img.bytes).width == 64);
  }
}

TEST_CASE("full VAE previews when configured", "[actors]") {
  WorkerConfig c = demo_config();
  c.full_vae_previews = true;
  c.default_preview_every = 1;
  auto w = start_ready(c);
  auto events = run_job(*w, small_job(2));
  CHECK(types_of(events) == "queued,started,progress1,preview1,progress2,narration,complete");
  REQUIRE(events.size() == 7);
  CHECK(decode_image(events[3].images.at(0).bytes).width == 64);
}

TEST_CASE("two subscribers (one joining late) both see every event", "[actors]") {
  auto w = start_ready(demo_config());
  const std::string id = w->submit(small_job(6, 9, 128));
  auto early = w->subscribe(id);
  std::vector<JobEvent> a;
  JobEvent e;
  while (!early->finished()) {
    REQUIRE(early->next(e, 30s));
    a.push_back(e);
    if (e.type == JobEvent::Type::progress && e.step == 3) break;
  }
  auto late = w->subscribe(id);
  auto rest = read_all(*early);
  a.insert(a.end(), rest.begin(), rest.end());
  auto b = read_all(*late);
  CHECK(types_of(a) == expected_types(6));
  CHECK(types_of(b) == expected_types(6));
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].emitted_at_ms == b[i].emitted_at_ms);
  CHECK(a.back().images.at(0).bytes == b.back().images.at(0).bytes);
  // After the end, a third one still gets the whole history.
  CHECK(types_of(read_all(*w->subscribe(id))) == expected_types(6));
}

TEST_CASE("same seed through the actors gives the bytes of generate()", "[actors]") {
  // tiny-sdxl: its pooled embeddings and time ids travel from the encoder to the denoiser too.
  for (const std::string model :
       {std::string("demo"), test::fixture("pipelines/tiny-sd15"), test::fixture("pipelines/tiny-sdxl")}) {
    INFO(model);
    WorkerConfig c = demo_config();
    c.model = model;
    auto w = start_ready(c);
    JobSubmission j = small_job(4, 1234, model == "demo" ? 64 : 32);
    j.request.num_images = 2;
    j.request.negative_prompt = "blurry";
    auto events = run_job(*w, j);
    REQUIRE(events.back().type == JobEvent::Type::complete);
    auto m = model == "demo" ? make_demo_model({}) : load_diffusers_model(model, {});
    GenerationResult ref = generate(*m, j.request);
    REQUIRE(events.back().images.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      Image img = decode_image(events.back().images[i].bytes);
      CHECK(img.width == ref.images[i].width);
      CHECK(img.pixels == ref.images[i].pixels);
    }
    const std::string label = model == "demo" ? "demo" : fs::path(model).filename().string();
    CHECK(png_text_chunks(events.back().images[0].bytes).at(0).second == ref.parameters_text(label, j.request));
  }
}

TEST_CASE("500 jobs in a row: memory stays bounded and finished jobs are dropped", "[actors]") {
  WorkerConfig c = demo_config();
  c.max_finished_jobs = 50;
  auto w = start_ready(c);
  std::vector<std::string> ids;
  int64_t rss_100 = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto t100 = t0;
  for (int i = 0; i < 500; ++i) {
    JobSubmission j = small_job(1 + i % 2, static_cast<uint64_t>(i));
    const std::string id = w->submit(j);
    ids.push_back(id);
    auto events = read_all(*w->subscribe(id));
    REQUIRE(!events.empty());
    REQUIRE(events.back().type == JobEvent::Type::complete);
    if (i + 1 == 100) {
      rss_100 = rss_kib();
      t100 = std::chrono::steady_clock::now();
    }
  }
  const int64_t rss_500 = rss_kib();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t100).count();
  std::cout << "500 jobs (demo, 64x64, 1-2 steps): VmRSS after 100 jobs " << rss_100 << " KiB, after 500 jobs "
            << rss_500 << " KiB, growth " << (rss_500 - rss_100) << " KiB; jobs 101-500 took " << ms << " ms ("
            << ms / 400 << " ms/job)\n";
  CHECK(rss_500 - rss_100 < 16 * 1024);  // bound: 16 MiB for 400 more jobs
  WorkerHealth h = w->health();
  CHECK(h.jobs_completed == 500);
  // Only the last max_finished_jobs are kept.
  CHECK_THROWS_AS(w->status(ids.front()), WorkerError);
  CHECK_THROWS_AS(w->status(ids[449]), WorkerError);
  CHECK(w->status(ids[450]).state == JobState::completed);
  CHECK(w->status(ids.back()).state == JobState::completed);
}
