// VAE vs TAESD decode time in one run (issue 24): the full-size SD1.5 AutoencoderKL and
// madebyollin/taesd's AutoencoderTiny architecture, random weights (init_demo_weights), fp32, on
// the CPU; and the tiny fixtures' models. `ninja vae_decode_bench`, then
// `vae_decode_bench [SIZE=512] [RUNS=3] [FIXTURES_DIR|-] [TILE]`; prints the median of RUNS after a
// warm-up. With TILE (image pixels) only the VAE decode runs, tiled as diffusers' enable_tiling
// with tile_sample_min_size TILE, and the process's peak RSS is printed (run once with TILE 0 for
// the plain decode's peak: VmHWM only grows, so one process measures one mode).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "model/loading/diffusers_folder.h"
#include "model/loading/taesd_folder.h"
#include "model/nets/autoencoder_kl.h"
#include "model/nets/autoencoder_tiny.h"
#include "model/nets/vae_tiling.h"
#include "model/pipeline/demo_model.h"

namespace {

double median_ms(int runs, const std::function<void()>& f) {
  f();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

long long peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) / 1024;
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sdw;
  const int64_t size = argc > 1 ? std::atoi(argv[1]) : 512;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  c10::InferenceMode guard;
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  AutoencoderKL vae(AutoencoderKLConfig{}, opts);  // SD1.5: 128/256/512/512, 2 layers per block
  init_demo_weights(*vae, 1);
  at::Tensor z = at::randn({1, 4, size / 8, size / 8});
  if (argc > 4) {
    const int64_t tile = std::atoi(argv[4]);
    if (tile > 0) vae->enable_tiling(VaeTiling::with(vae->config(), tile, 0.25));
    const long long before = peak_rss_mib();
    const double ms = median_ms(runs, [&] { vae->decode(z); });
    std::printf("SD1.5 VAE decode %lldx%lld, %s: %.1f ms, peak RSS %lld MiB (%lld MiB before decoding)\n",
                static_cast<long long>(size), static_cast<long long>(size),
                tile > 0 ? ("tiled, tile " + std::to_string(tile)).c_str() : "plain", ms, peak_rss_mib(), before);
    return 0;
  }
  AutoencoderTiny taesd(AutoencoderTinyConfig{}, opts);  // taesd: 64 channels, (1,3,3,3) / (3,3,3,1)
  init_demo_weights(*taesd, 2);
  const double vae_ms = median_ms(runs, [&] { vae->decode(z); });
  const double taesd_ms = median_ms(runs, [&] { taesd->decode(z); });
  std::printf("full-size, %lldx%lld, %d threads: SD1.5 VAE decode %.1f ms, TAESD decode %.1f ms (%.1fx)\n",
              static_cast<long long>(size), static_cast<long long>(size), at::get_num_threads(), vae_ms, taesd_ms,
              vae_ms / taesd_ms);
  if (argc > 3 && std::string(argv[3]) != "-") {
    const std::string dir = argv[3];
    AutoencoderKL tiny_vae = load_vae(dir + "/pipelines/tiny-sd15/vae", opts);
    AutoencoderTiny tiny_taesd = load_taesd(dir + "/vae_extras/tiny-taesd-sd15", opts);
    // The same 128x96 image: tiny-sd15's VAE (factor 2) from 48x64 latents, TAESD (factor 8) from 12x16.
    at::Tensor zk = at::randn({1, 4, 48, 64}), zt = at::randn({1, 4, 12, 16});
    const double a = median_ms(runs * 5, [&] { tiny_vae->decode(zk); });
    const double b = median_ms(runs * 5, [&] { tiny_taesd->decode(zt); });
    std::printf("tiny fixtures, 128x96: tiny-sd15 VAE decode %.2f ms, tiny TAESD decode %.2f ms (%.1fx)\n", a, b, a / b);
  }
  return 0;
}
