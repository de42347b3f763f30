// One-at-a-time versus continuously batched jobs (see bench_concurrent.h).
#include "runtime/bench_concurrent.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "model/pipeline/denoise_step.h"
#include "model/pipeline/stages.h"
#include "runtime/device_sync.h"

namespace sdw {
namespace {

using clock_type = std::chrono::steady_clock;

struct RunResult {
  double total_ms = 0;
  std::vector<double> latency_ms;  // per job, from the common arrival
  std::vector<Image> images;       // the first image of each job
  int unet_calls = 0;
};

double ms_since(const at::Device& device, clock_type::time_point t0) {
  synchronize(device);
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

// A job's state after its prompt encoding and latents preparation.
DenoiseState prepare(SdModel& model, const ResolvedRequest& r) { return prepare_denoise(model, r, encode_prompt(model, r)); }

Image decode_first(SdModel& model, const DenoiseState& s) {
  return to_images(decode_latents(model, s.latents)).at(0);
}

RunResult one_at_a_time(SdModel& model, const std::vector<ResolvedRequest>& jobs) {
  RunResult r;
  const auto t0 = clock_type::now();
  for (const ResolvedRequest& job : jobs) {
    DenoiseState s = prepare(model, job);
    while (!s.done()) {
      denoise_step(model, s);
      ++r.unet_calls;
    }
    r.images.push_back(decode_first(model, s));
    r.latency_ms.push_back(ms_since(model.device, t0));
  }
  r.total_ms = ms_since(model.device, t0);
  return r;
}

RunResult batched(SdModel& model, const std::vector<ResolvedRequest>& jobs) {
  RunResult r;
  r.images.resize(jobs.size());
  r.latency_ms.resize(jobs.size());
  const auto t0 = clock_type::now();
  std::vector<DenoiseState> states;
  for (const ResolvedRequest& job : jobs) states.push_back(prepare(model, job));
  std::vector<bool> finished(jobs.size(), false);
  for (;;) {
    std::vector<DenoiseState*> batch;
    for (size_t i = 0; i < states.size(); ++i)
      if (!states[i].done() && (batch.empty() || can_batch(model, *batch.front(), states[i]))) batch.push_back(&states[i]);
    if (batch.empty()) break;
    denoise_step_batch(model, batch);
    ++r.unet_calls;
    for (size_t i = 0; i < states.size(); ++i) {
      if (finished[i] || !states[i].done()) continue;
      finished[i] = true;
      r.images[i] = decode_first(model, states[i]);
      r.latency_ms[i] = ms_since(model.device, t0);
    }
  }
  r.total_ms = ms_since(model.device, t0);
  return r;
}

void print_row(const char* what, const RunResult& r, int images) {
  std::printf("| %-24s | %9.3f | %10.1f | %10.1f | %10.1f | %10d |\n", what, images / (r.total_ms / 1000.0),
              percentile(r.latency_ms, 0.5), percentile(r.latency_ms, 0.9), percentile(r.latency_ms, 1.0), r.unet_calls);
}

}  // namespace

void run_concurrent_bench(SdModel& model, const GenerationRequest& request, const RequestLimits& limits, int n) {
  std::vector<ResolvedRequest> jobs;
  for (int i = 0; i < n; ++i) {
    GenerationRequest r = request;
    r.seed = static_cast<uint64_t>(i + 1);
    jobs.push_back(resolve_request(model, r, limits));
  }
  const int images = n * std::max(1, request.num_images);
  // One untimed job first (allocator, kernels, graphs of the one-job shape).
  one_at_a_time(model, {jobs.front()});
  std::printf("\n%d concurrent jobs (seeds 1..%d), arriving together: one at a time, then continuously batched "
              "(latency from the arrival; A/B/A):\n", n, n);
  std::printf("| %-24s | %9s | %10s | %10s | %10s | %10s |\n", "run", "images/s", "p50 ms", "p90 ms", "max ms", "UNet calls");
  std::printf("|--------------------------|-----------|------------|------------|------------|------------|\n");
  const RunResult a1 = one_at_a_time(model, jobs);
  print_row("one at a time (A)", a1, images);
  const RunResult b = batched(model, jobs);
  print_row("batched (B)", b, images);
  const RunResult a2 = one_at_a_time(model, jobs);
  print_row("one at a time (A again)", a2, images);
  const double a_ms = (a1.total_ms + a2.total_ms) / 2;
  std::printf("throughput, batched / one at a time: %.2fx\n", a_ms / b.total_ms);
  int worst = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    int m = 0;
    for (size_t k = 0; k < a1.images[i].pixels.size() && k < b.images[i].pixels.size(); ++k)
      m = std::max(m, std::abs(int(a1.images[i].pixels[k]) - int(b.images[i].pixels[k])));
    worst = std::max(worst, m);
  }
  std::printf("largest pixel difference, batched vs alone, over the %d jobs: %d\n", n, worst);
}

}  // namespace sdw
