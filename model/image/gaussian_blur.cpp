// A1111's mask blur (see gaussian_blur.h).
#include "model/image/gaussian_blur.h"

#include <cmath>
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

std::vector<double> gaussian_kernel(int size, double sigma) {
  std::vector<double> k(static_cast<size_t>(size));
  double sum = 0;
  for (int i = 0; i < size; ++i) {
    const double x = i - (size - 1) / 2.0;
    k[static_cast<size_t>(i)] = std::exp(-x * x / (2 * sigma * sigma));
    sum += k[static_cast<size_t>(i)];
  }
  for (double& v : k) v /= sum;
  return k;
}

uint8_t to_byte(double v) {
  const double r = std::nearbyint(v);  // half to even, as cvRound
  return static_cast<uint8_t>(r < 0 ? 0 : r > 255 ? 255 : r);
}

// One pass along x (dx = 1) or y (dx = 0).
Image blur_pass(const Image& in, const std::vector<double>& k, bool along_x) {
  Image out = in;
  const int half = static_cast<int>(k.size() / 2);
  for (int y = 0; y < in.height; ++y) {
    for (int x = 0; x < in.width; ++x) {
      double sum = 0;
      for (int t = -half; t <= half; ++t) {
        const int sx = along_x ? reflect101(x + t, in.width) : x;
        const int sy = along_x ? y : reflect101(y + t, in.height);
        sum += k[static_cast<size_t>(t + half)] * in.pixels[static_cast<size_t>(sy) * in.width + sx];
      }
      out.pixels[static_cast<size_t>(y) * in.width + x] = to_byte(sum);
    }
  }
  return out;
}

}  // namespace

Image gaussian_blur_a1111(const Image& gray, int blur) {
  if (gray.channels != 1) throw std::invalid_argument("gaussian_blur_a1111: a one-channel image is needed");
  if (blur <= 0) return gray;
  const int size = 2 * static_cast<int>(2.5 * blur + 0.5) + 1;
  const std::vector<double> k = gaussian_kernel(size, blur);
  return blur_pass(blur_pass(gray, k, true), k, false);
}

}  // namespace sdw
