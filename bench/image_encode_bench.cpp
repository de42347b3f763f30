// Image encoding benchmark (a program that prints a table, not a test): encodes deterministic
// generated-like RGB images (smooth gradients plus noise) at 512x512 and 1024x1024 as PNG with an
// A1111 "parameters" chunk and as JPEG at quality 90, and prints the median time and the size.
// Usage: image_encode_bench [runs (default 15)] [output dir: also writes each encoded file there]
// Built by `ninja image_encode_bench` (model/CMakeLists.txt; not part of `all`).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "model/image/image_io.h"

namespace {

// Smooth colour gradients and soft waves with a little per-pixel noise (an LCG: the same image on
// every machine), roughly what a diffusion model's output looks like to a PNG encoder.
sdw::Image natural_image(int w, int h) {
  sdw::Image im;
  im.width = w;
  im.height = h;
  im.channels = 3;
  im.pixels.resize(size_t(w) * size_t(h) * 3);
  uint32_t state = 0x12345678u;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double u = double(x) / w, v = double(y) / h;
      const double base[3] = {200 * u + 30 * std::sin(9 * v + 3 * u), 180 * v + 40 * std::cos(7 * u),
                              120 + 90 * std::sin(5 * (u + v)) * std::cos(4 * u - 2 * v)};
      for (int c = 0; c < 3; ++c) {
        state = state * 1664525u + 1013904223u;
        const int noise = int(state >> 29) - 4;  // -4..3
        im.pixels[(size_t(y) * w + x) * 3 + c] = uint8_t(std::clamp(int(base[c]) + noise, 0, 255));
      }
    }
  }
  return im;
}

struct Result {
  double median_ms;
  size_t bytes;
};

Result measure(int runs, const std::function<std::string()>& encode, const std::string& save_as) {
  std::vector<double> ms;
  std::string out;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    out = encode();
    const auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  if (!save_as.empty()) std::ofstream(save_as, std::ios::binary).write(out.data(), std::streamsize(out.size()));
  return {ms[ms.size() / 2], out.size()};
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  const std::string dir = argc > 2 ? argv[2] : "";
  const std::string parameters =
      "a photo of an astronaut riding a horse on mars, highly detailed\n"
      "Negative prompt: blurry, lowres\n"
      "Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: v1-5";
  std::printf("%-10s %-22s %6s %10s %10s\n", "size", "format", "runs", "median ms", "bytes");
  for (int side : {512, 1024}) {
    const sdw::Image image = natural_image(side, side);
    const std::string size = std::to_string(side) + "x" + std::to_string(side);
    const std::string prefix = dir.empty() ? "" : dir + "/" + size;
    const Result png = measure(runs, [&] { return sdw::encode_png(image, parameters); }, prefix.empty() ? "" : prefix + ".png");
    const Result jpg = measure(runs, [&] { return sdw::encode_jpeg(image, 90); }, prefix.empty() ? "" : prefix + ".jpg");
    std::printf("%-10s %-22s %6d %10.2f %10zu\n", size.c_str(), "PNG + parameters", runs, png.median_ms, png.bytes);
    std::printf("%-10s %-22s %6d %10.2f %10zu\n", size.c_str(), "JPEG q90", runs, jpg.median_ms, jpg.bytes);
  }
  return 0;
}
