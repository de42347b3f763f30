// A/B/A rounds of the speed options (see bench_speed.h).
#include "runtime/bench_speed.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "model/pipeline/generate.h"
#include "runtime/bench_timing.h"

namespace sdw {
namespace {

struct Round {
  double step_ms = 0, denoise_ms = 0, decode_ms = 0, total_ms = 0, peak_gib = 0;
  Image image;
};

Round run_round(SdModel& model, const GenerationRequest& request, const RequestLimits& limits, int runs) {
  std::vector<double> step, denoise, decode, total;
  Round r;
  r.peak_gib = stage_peak_gib(model.device, [&] {
    for (int i = 0; i < runs; ++i) {
      GenerationResult g = generate(model, request, {}, limits);
      step.push_back(g.timings.denoise_ms / std::max(1, g.unet_calls));
      denoise.push_back(g.timings.denoise_ms);
      decode.push_back(g.timings.decode_ms);
      total.push_back(g.timings.total_ms);
      r.image = std::move(g.images.at(0));
    }
  });
  r.step_ms = median(step);
  r.denoise_ms = median(denoise);
  r.decode_ms = median(decode);
  r.total_ms = median(total);
  return r;
}

void print_round(const std::string& what, const Round& r) {
  std::printf("| %-30s | %9.1f | %10.1f | %9.1f | %10.1f | %8.2f |\n", what.c_str(), r.step_ms, r.denoise_ms, r.decode_ms,
              r.total_ms, r.peak_gib);
}

}  // namespace

std::vector<SpeedVariant> speed_variants(const DeepCacheOptions& deepcache, const TomeOptions& tome) {
  std::vector<SpeedVariant> v;
  const std::string dc = "deepcache " + std::to_string(deepcache.interval) + " (branch " + std::to_string(deepcache.branch) + ")";
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "tome %.2f", tome.ratio);
  if (deepcache.on()) v.push_back({dc, deepcache, std::nullopt});
  if (tome.on()) v.push_back({ratio, std::nullopt, tome});
  if (deepcache.on() && tome.on()) v.push_back({dc + " + " + ratio, deepcache, tome});
  return v;
}

void run_speed_rounds(SdModel& model, const GenerationRequest& request, const RequestLimits& limits,
                      const std::vector<SpeedVariant>& variants, int runs) {
  if (variants.empty()) return;
  std::printf("\nspeed options, A/B/A rounds (median of %d end-to-end run(s) each; step = denoise / UNet calls):\n", runs);
  std::printf("| %-30s | %9s | %10s | %9s | %10s | %8s |\n", "round", "step ms", "denoise ms", "VAE ms", "e2e ms", "peak GiB");
  std::printf("|--------------------------------|-----------|------------|-----------|------------|----------|\n");
  GenerationRequest exact = request;
  exact.deepcache.reset();
  exact.tome.reset();
  for (const SpeedVariant& v : variants) {
    GenerationRequest with = exact;
    with.deepcache = v.deepcache;
    with.tome = v.tome;
    const Round a1 = run_round(model, exact, limits, runs);
    print_round("exact (A)", a1);
    const Round b = run_round(model, with, limits, runs);
    print_round(v.name + " (B)", b);
    const Round a2 = run_round(model, exact, limits, runs);
    print_round("exact (A again)", a2);
    int max_diff = 0;
    double mean_diff = 0;
    for (size_t i = 0; i < b.image.pixels.size() && i < a1.image.pixels.size(); ++i) {
      const int d = std::abs(int(b.image.pixels[i]) - int(a1.image.pixels[i]));
      max_diff = std::max(max_diff, d);
      mean_diff += d;
    }
    mean_diff /= std::max<size_t>(1, b.image.pixels.size());
    const double step_a = 0.5 * (a1.step_ms + a2.step_ms), e2e_a = 0.5 * (a1.total_ms + a2.total_ms);
    std::printf("%s: step x%.2f, end to end x%.2f faster than exact (A rounds %.1f / %.1f ms per step); "
                "image vs exact: max pixel diff %d, mean %.3f\n",
                v.name.c_str(), step_a / b.step_ms, e2e_a / b.total_ms, a1.step_ms, a2.step_ms, max_diff, mean_diff);
  }
}

}  // namespace sdw
