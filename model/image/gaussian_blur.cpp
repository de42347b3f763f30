// A1111's mask blur (see gaussian_blur.h).
#include "model/image/gaussian_blur.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace sdw {
namespace {

// BORDER_REFLECT_101 index into [0, n).
int reflect101(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
  return i;
}

// OpenCV's 8-bit kernel (getGaussianKernelBitExact, then getGaussianKernelFixedPoint_ED with 8
// fractional bits): the weights exp(-x^2 / (2 sigma^2)) over x = i - (size - 1) / 2, times
// 1 / their sum; from the outside in, each side weight x 256 plus the rounding error carried from
// the previous one, rounded half to even (error diffusion); the centre is 256 minus the others.
std::vector<int> fixed_point_kernel(int size, double sigma) {
  const int half = (size - 1) / 2;
  std::vector<double> values(static_cast<size_t>(half));
  const double scale = -0.125 / (sigma * sigma);
  double sum = 0;
  for (int i = 0, x = 1 - size; i < half; ++i, x += 2) {  // x counts half steps: (2 offset)^2 / 8
    values[static_cast<size_t>(i)] = std::exp(static_cast<double>(x * x) * scale);
    sum += values[static_cast<size_t>(i)];
  }
  const double mul = 1.0 / (sum * 2 + 1);
  std::vector<int> k(static_cast<size_t>(size));
  double err = 0;
  int sides = 0;
  for (int i = 0; i < half; ++i) {
    const double adjusted = values[static_cast<size_t>(i)] * mul * 256 + err;
    const double w = std::nearbyint(adjusted);  // cvRound: half to even
    err = adjusted - w;
    k[static_cast<size_t>(i)] = k[static_cast<size_t>(size - 1 - i)] = static_cast<int>(w);
    sides += static_cast<int>(w);
  }
  k[static_cast<size_t>(half)] = 256 - 2 * sides;
  return k;
}

// One GaussianBlur call with a kernel along x (along_x) or y: the row filter's sum of weights x
// pixels is exact in 8.8 fixed point, the 1-tap pass across keeps it, and the result is rounded
// half up to 8 bits (ufixedpoint's conversion), saturated.
Image blur_pass(const Image& in, const std::vector<int>& k, bool along_x) {
  Image out = in;
  const int half = static_cast<int>(k.size() / 2);
  for (int y = 0; y < in.height; ++y) {
    for (int x = 0; x < in.width; ++x) {
      uint32_t sum = 0;  // 8 fractional bits
      for (int t = -half; t <= half; ++t) {
        const int sx = along_x ? reflect101(x + t, in.width) : x;
        const int sy = along_x ? y : reflect101(y + t, in.height);
        sum += static_cast<uint32_t>(k[static_cast<size_t>(t + half)]) * in.pixels[static_cast<size_t>(sy) * in.width + sx];
      }
      const uint32_t v = (sum + 128) >> 8;
      out.pixels[static_cast<size_t>(y) * in.width + x] = static_cast<uint8_t>(v > 255 ? 255 : v);
    }
  }
  return out;
}

}  // namespace

Image gaussian_blur_a1111(const Image& gray, int blur) {
  if (gray.channels != 1) throw std::invalid_argument("gaussian_blur_a1111: a one-channel image is needed");
  if (blur <= 0) return gray;
  const int size = 2 * static_cast<int>(2.5 * blur + 0.5) + 1;
  const std::vector<int> k = fixed_point_kernel(size, blur);
  return blur_pass(blur_pass(gray, k, true), k, false);
}

}  // namespace sdw
