// The denoiser's live memory check (actors/denoiser.cpp, model/pipeline/device_memory.h): the
// loader's budget is read once, when the model loads, but a job starts only if the device has room
// for its denoising step now. Through the real Worker (CAF actors) on the CPU: a worker told it has
// a petabyte (--memory-budget) passes the loader's check for a job far larger than this machine's
// free memory; the denoiser, reading what is free when the job starts, fails that job with
// out_of_memory and a message saying so, before it allocates anything, and the next job runs.
#include <catch.hpp>

#include <chrono>

#include "actors/memory_estimate.h"
#include "actors/worker.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/device_memory.h"
#include "model/pipeline/job_memory.h"
#include "model/pipeline/stages.h"

using namespace sdw;
using namespace std::chrono_literals;

namespace {

GenerationRequest small_request() {
  GenerationRequest r;
  r.prompt = "a red apple on a table";
  r.width = r.height = 64;
  r.steps = 2;
  r.seed = 7;
  return r;
}

RequestLimits roomy_limits() {
  RequestLimits l;
  l.max_side = 65536;
  l.max_pixels = 65536ll * 65536ll;
  l.max_images = 64;
  return l;
}

// The last event of a job's stream.
JobEvent last_event(EventStream& s) {
  JobEvent e, last;
  const auto end = std::chrono::steady_clock::now() + 120s;
  while (!s.finished() && std::chrono::steady_clock::now() < end)
    if (s.next(e, 1s)) last = e;
  return last;
}

}  // namespace

TEST_CASE("a job whose step does not fit the memory free when it starts fails with out_of_memory", "[actors][memory]") {
  // The smallest square size (64 images) whose estimated denoiser step needs more than twice what
  // this machine has free now.
  auto model = make_demo_model(ModelLoadOptions{});
  const int64_t free_now = device_free_bytes(at::kCPU);
  REQUIRE(free_now > 0);
  GenerationRequest big = small_request();
  big.num_images = 64;
  int64_t need = 0;
  for (int side = 1024; side <= 65536 && need <= 2 * free_now; side *= 2) {
    big.width = big.height = side;
    need = estimate_job_memory(*model, resolve_request(*model, big, roomy_limits()), -1).denoiser_bytes;
  }
  INFO("free now " << free_now << " bytes; the job (" << big.width << "x" << big.height << ", 64 images) needs " << need);
  REQUIRE(need > 2 * free_now);

  WorkerConfig c;
  c.model = "demo";
  c.limits = roomy_limits();
  c.memory_budget_bytes = int64_t{1} << 50;  // the loader's check passes
  auto w = Worker::start(c);
  REQUIRE(w->wait_ready(120s));

  JobSubmission job;
  job.request = big;
  auto s = w->subscribe(w->submit(job));
  const JobEvent failed = last_event(*s);
  CHECK(failed.type == JobEvent::Type::error);
  CHECK(failed.error_code == "out_of_memory");
  CHECK_THAT(failed.message, Catch::Contains("for its denoising steps") && Catch::Contains("free now"));

  // The worker goes on serving.
  JobSubmission next;
  next.request = small_request();
  auto s2 = w->subscribe(w->submit(next));
  const JobEvent done = last_event(*s2);
  CHECK(done.type == JobEvent::Type::complete);
  CHECK(done.images.size() == 1);
}
