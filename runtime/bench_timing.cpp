// Bench timing helpers (see bench_timing.h).
#include "runtime/bench_timing.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "runtime/device_sync.h"

namespace sdw {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]));
}

double time_ms(const at::Device& device, int warmup, int runs, const std::function<void()>& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  synchronize(device);
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    synchronize(device);
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

void row(const char* what, double ms, const std::string& note) {
  if (ms < 0)
    std::printf("| %-28s | %12s | %s\n", what, "n/a", note.c_str());
  else
    std::printf("| %-28s | %12.2f | %s\n", what, ms, note.c_str());
}

void table_header() {
  std::printf("| %-28s | %12s | %s\n", "stage", "median ms", "note");
  std::printf("|------------------------------|--------------|------\n");
}

double stage_peak_gib(const at::Device& device, const std::function<void()>& fn) {
  synchronize(device);
  reset_peak_memory(device);
  fn();
  synchronize(device);
  return peak_memory_bytes(device) / (1024.0 * 1024 * 1024);
}

GenerationRequest bench_request(int width, int height, int steps, double guidance, int batch) {
  GenerationRequest req;
  req.prompt = "a photograph of an astronaut riding a horse on mars, highly detailed";
  req.negative_prompt = "blurry, lowres";
  req.width = width;
  req.height = height;
  req.steps = steps;
  req.guidance = guidance;
  req.seed = 1;
  req.num_images = batch;
  return req;
}

RequestLimits bench_limits() {
  RequestLimits limits;
  limits.max_side = 4096;
  limits.max_pixels = 4096ll * 4096;
  limits.max_images = 64;
  return limits;
}

}  // namespace sdw
