// The Worker facade (actors/worker.h) when things go wrong: a stage that fails, runs out of memory
// or crashes fails only its job (the next job runs), the loader refuses a model that does not fit
// or does not exist, and a device this build does not have is refused.
#include <catch.hpp>

#include <atomic>
#include <chrono>
#include <new>
#include <stdexcept>

#include "actors/actor_jobs.h"
#include "actors/worker.h"

using namespace sdw;
using namespace sdw::test::actor_jobs;
using namespace std::chrono_literals;

TEST_CASE("a stage that fails or crashes fails only its job", "[actors]") {
  std::atomic<bool> fail_decoder{false}, crash_denoiser{false}, oom_encoder{false};
  NarrationLog log;
  WorkerConfig c = demo_config();
  c.fault_injection = [&](const std::string& stage) {
    if (stage == "decoder" && fail_decoder.exchange(false)) throw std::runtime_error("injected decoder failure");
    if (stage == "encoder" && oom_encoder.exchange(false)) throw std::bad_alloc();
    if (stage == "denoiser/actor" && crash_denoiser.exchange(false)) throw std::runtime_error("injected crash");
  };
  auto w = start_ready(c);
  log.attach(*w);

  fail_decoder = true;
  auto events = run_job(*w, small_job(2));
  REQUIRE(events.back().type == JobEvent::Type::error);
  CHECK(events.back().error_code == "internal");
  CHECK(events.back().message.find("decoder") != std::string::npos);
  CHECK(events.back().message.find("injected decoder failure") != std::string::npos);
  CHECK(run_job(*w, small_job(2)).back().type == JobEvent::Type::complete);

  oom_encoder = true;
  events = run_job(*w, small_job(2));
  REQUIRE(events.back().type == JobEvent::Type::error);
  CHECK(events.back().error_code == "out_of_memory");
  CHECK(run_job(*w, small_job(2)).back().type == JobEvent::Type::complete);

  // The denoiser actor itself dies mid-job: its supervisor (the device) restarts it.
  crash_denoiser = true;
  events = run_job(*w, small_job(3));
  REQUIRE(events.back().type == JobEvent::Type::error);
  CHECK(events.back().error_code == "internal");
  CHECK(events.back().message.find("denoiser stage crashed") != std::string::npos);
  CHECK(log.contains("denoiser stage went down"));
  auto good = run_job(*w, small_job(3));
  CHECK(types_of(good) == expected_types(3));
  WorkerHealth h = w->health();
  CHECK(h.jobs_failed == 3);
  CHECK(h.jobs_completed == 3);
  CHECK(h.ready);
}

TEST_CASE("the loader refuses a model that does not fit and a model that does not exist", "[actors]") {
  WorkerConfig c = demo_config();
  c.memory_budget_bytes = 1 << 20;
  auto w = Worker::start(c);
  CHECK_FALSE(w->wait_ready(120s));
  WorkerHealth h = w->health();
  CHECK_FALSE(h.ready);
  CHECK(h.status == "failed");
  INFO(h.reason);
  CHECK(h.reason.find("needs about") != std::string::npos);
  CHECK(h.reason.find("weights") != std::string::npos);
  CHECK(submit_error(*w, small_job(1)) == WorkerErrc::not_ready);

  c.memory_budget_bytes = 0;
  c.model = "/nonexistent/sd-model";
  auto w2 = Worker::start(c);
  CHECK_FALSE(w2->wait_ready(120s));
  INFO(w2->health().reason);
  CHECK(w2->health().reason.find("not found") != std::string::npos);
}

TEST_CASE("a device this build does not have is refused", "[actors]") {
  WorkerConfig c = demo_config();
  c.devices = {"cuda:7"};
  auto w = Worker::start(c);
  CHECK_FALSE(w->wait_ready(60s));
  INFO(w->health().reason);
  CHECK(w->health().status == "failed");
  CHECK(w->health().reason.find("cuda:7") != std::string::npos);
}
