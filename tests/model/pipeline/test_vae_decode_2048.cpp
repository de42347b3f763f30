// Issue 24's "2048x2048 SD1.5 decode on this machine without running out of memory" (label slow;
// run under `flock /tmp/sdw-bench.lock`, see docs/memory.md): the full-size SD1.5 AutoencoderKL
// (random weights, init_demo_weights, as `sd-worker bench` builds it) decodes 256x256 latents
// through the automatic path (no --vae-tiling, no job choice). The plain pass's estimate
// (vae_pass_bytes: ~46 GiB fp32) exceeds the free memory of any machine this targets, so the rule
// must choose tiling; the image must be [1, 3, 2048, 2048] and finite, and the process's peak RSS
// must stay under a quarter of the machine's MemTotal.
#include <catch.hpp>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "model/pipeline/demo_model.h"
#include "model/pipeline/vae_memory.h"

using namespace sdw;

namespace {

// A field of /proc/meminfo or /proc/self/status in bytes (their values are in kB); -1 if absent.
int64_t proc_kib_field(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream fields(line.substr(key.size()));
    int64_t kib = -1;
    fields >> kib;
    return kib < 0 ? -1 : kib * 1024;
  }
  return -1;
}

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

}  // namespace

TEST_CASE("a 2048x2048 SD1.5 VAE decode is tiled automatically and fits the machine", "[slow][pipeline][tiling]") {
  c10::InferenceMode guard;
  const int64_t mem_total = proc_kib_field("/proc/meminfo", "MemTotal:");
  REQUIRE(mem_total > 0);
  const int64_t bound = mem_total / 4;

  SdModel model;
  model.vae = AutoencoderKL(AutoencoderKLConfig{}, at::TensorOptions().dtype(at::kFloat));  // SD1.5's VAE
  init_demo_weights(*model.vae, 1);
  apply_memory_options(model, MemoryOptions{});  // defaults: no --vae-tiling, no tile settings
  REQUIRE(model.vae->tiling() != nullptr);
  REQUIRE(model.vae->tile_when);
  // Observe the automatic rule's own answer for this call.
  int calls = 0;
  bool chose_tiling = false;
  int64_t free_at_choice = -1;
  auto rule = model.vae->tile_when;
  model.vae->tile_when = [&](const at::Tensor& input, bool decoding) {
    ++calls;
    free_at_choice = device_free_bytes(at::kCPU);
    chose_tiling = rule(input, decoding);
    return chose_tiling;
  };

  const at::Tensor z = at::randn({1, 4, 256, 256}, at::TensorOptions().dtype(at::kFloat));  // [N, 4, h, w]
  const int64_t plain_need = vae_pass_bytes(model.vae->config(), 1, 2048, 2048, 4);
  const int64_t peak_before = proc_kib_field("/proc/self/status", "VmHWM:");
  const auto t0 = std::chrono::steady_clock::now();
  const at::Tensor image = model.vae->decode(z);  // [1, 3, 2048, 2048]
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t peak = proc_kib_field("/proc/self/status", "VmHWM:");

  std::cout << "2048x2048 SD1.5 VAE decode (automatic): tiled " << chose_tiling << ", " << seconds << " s, peak RSS "
            << peak / kGiB << " GiB (" << peak_before / kGiB << " GiB before decoding), bound " << bound / kGiB
            << " GiB (MemTotal / 4); plain decode estimate " << plain_need / kGiB << " GiB, free at the choice "
            << free_at_choice / kGiB << " GiB\n";
  CHECK(calls == 1);
  CHECK(free_at_choice > 0);
  CHECK(plain_need > free_at_choice);
  CHECK(chose_tiling);
  REQUIRE(image.sizes() == at::IntArrayRef({1, 3, 2048, 2048}));
  CHECK(image.isfinite().all().item<bool>());
  CHECK(image.abs().max().item<float>() > 0.0f);  // a real decode, not an empty tensor
  REQUIRE(peak > 0);
  CHECK(peak < bound);
}
