// Continuous batching under a memory budget (actors/denoiser.cpp's next_batch): jobs join a shared
// UNet call only while their denoiser working memory (model/pipeline/job_memory.h) together fits
// what the model leaves of the budget. The demo model through the real Worker (CAF actors): with
// a budget for two jobs' steps, four jobs waiting together run in batches of at most two; without
// a budget, the same four jobs share larger batches (so the cap is what held them).
#include <catch.hpp>

#include <chrono>

#include "actors/memory_estimate.h"
#include "actors/worker.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/job_memory.h"
#include "model/pipeline/stages.h"

using namespace sdw;
using namespace std::chrono_literals;

namespace {

JobSubmission job(uint64_t seed) {
  JobSubmission j;
  j.request.prompt = "a red apple on a table";
  j.request.width = j.request.height = 64;
  j.request.steps = 8;
  j.request.seed = seed;
  return j;
}

// Reads the job's events to its end; true when the last is `complete`.
bool finished_ok(EventStream& s) {
  JobEvent e, last;
  const auto end = std::chrono::steady_clock::now() + 120s;
  while (!s.finished() && std::chrono::steady_clock::now() < end)
    if (s.next(e, 1s)) last = e;
  return s.finished() && last.type == JobEvent::Type::complete;
}

// Runs four jobs that wait together (the last three submitted once the first has made two steps)
// and returns the largest number of jobs one step task served.
int largest_batch(int64_t memory_budget) {
  WorkerConfig c;
  c.model = "demo";
  c.max_batch = 4;
  c.memory_budget_bytes = memory_budget;
  c.batch_stats = std::make_shared<BatchStats>();
  auto w = Worker::start(c);
  REQUIRE(w->wait_ready(120s));
  auto first = w->subscribe(w->submit(job(1)));
  JobEvent e;
  const auto end = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < end && !(e.type == JobEvent::Type::progress && e.step >= 2))
    if (!first->next(e, 1s) && first->finished()) break;
  REQUIRE(e.type == JobEvent::Type::progress);
  std::vector<std::shared_ptr<EventStream>> rest;
  for (uint64_t seed : {2, 3, 4}) rest.push_back(w->subscribe(w->submit(job(seed))));
  CHECK(finished_ok(*first));
  for (auto& s : rest) CHECK(finished_ok(*s));
  int largest = 0;
  for (const auto& [jobs, n] : c.batch_stats->snapshot()) largest = std::max(largest, jobs);
  return largest;
}

}  // namespace

TEST_CASE("jobs share a UNet call only while their working memory together fits the budget", "[actors][batching]") {
  // The budget: what the demo model itself takes (as the loader estimates it) plus room for two
  // of these jobs' denoiser steps and a half, not three.
  auto model = make_demo_model(ModelLoadOptions{});
  actors::MemoryEstimate e = actors::estimate_model(*model);
  actors::add_cpu_prepack(e, at::kCPU, at::kFloat);
  const int64_t step = estimate_job_memory(*model, resolve_request(*model, job(1).request), -1).denoiser_bytes;
  REQUIRE(step > 0);
  const int64_t budget = std::max(e.total(), e.total() - e.activation_bytes + 5 * step / 2);
  INFO("model " << e.describe() << ", one job's step " << step << " bytes, budget " << budget);

  const int capped = largest_batch(budget);
  CHECK(capped == 2);
  const int free = largest_batch(0);
  CHECK(free >= 3);
}
