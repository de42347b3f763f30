// Pillow's Lanczos resize (see pil_resize.h), following Pillow 9's libImaging/Resample.c:
// precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc / Vertical_8bpc and
// ImagingResampleInner.
#include "model/image/pil_resize.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace sdw {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr double kSupport = 3.0;  // Lanczos-3

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= M_PI;
  return std::sin(x) / x;
}

double lanczos(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0; }

// One axis: for every output index its first input index, the count of inputs it reads, and
// the fixed-point weights (ksize per output).
struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;  // [out * 2]: xmin, count
  std::vector<int32_t> k;   // [out * ksize]
};

Coeffs precompute(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = kSupport * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<size_t>(out_size) * 2);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = lanczos((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      c.k[static_cast<size_t>(xx) * c.ksize + x] =
          static_cast<int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[xx * 2] = xmin;
    c.bounds[xx * 2 + 1] = xmax;
  }
  return c;
}

uint8_t clip8(int64_t in) {
  if (in >= (int64_t{1} << kPrecisionBits << 8)) return 255;
  if (in <= 0) return 0;
  return static_cast<uint8_t>(in >> kPrecisionBits);
}

}  // namespace

Image resize_lanczos_pil(const Image& in, int width, int height) {
  if (width < 1 || height < 1 || in.width < 1 || in.height < 1) throw std::invalid_argument("resize_lanczos_pil: empty size");
  const int ch = in.channels;
  const bool horizontal = width != in.width, vertical = height != in.height;
  const Coeffs ch_h = precompute(in.width, width);
  Coeffs cv = precompute(in.height, height);
  // Rows of the input the vertical pass reads.
  const int y_first = cv.bounds[0];
  const int y_last = cv.bounds[(height - 1) * 2] + cv.bounds[(height - 1) * 2 + 1];
  Image cur = in;
  if (horizontal) {
    for (int i = 0; i < height; ++i) cv.bounds[i * 2] -= y_first;
    Image tmp;
    tmp.width = width;
    tmp.height = y_last - y_first;
    tmp.channels = ch;
    tmp.pixels.resize(static_cast<size_t>(tmp.width) * tmp.height * ch);
    for (int yy = 0; yy < tmp.height; ++yy)
      for (int xx = 0; xx < width; ++xx) {
        const int xmin = ch_h.bounds[xx * 2], xmax = ch_h.bounds[xx * 2 + 1];
        const int32_t* k = &ch_h.k[static_cast<size_t>(xx) * ch_h.ksize];
        for (int c = 0; c < ch; ++c) {
          int64_t ss = int64_t{1} << (kPrecisionBits - 1);
          for (int x = 0; x < xmax; ++x)
            ss += int64_t{in.pixels[(static_cast<size_t>(yy + y_first) * in.width + x + xmin) * ch + c]} * k[x];
          tmp.pixels[(static_cast<size_t>(yy) * width + xx) * ch + c] = clip8(ss);
        }
      }
    cur = std::move(tmp);
  }
  if (!vertical) return cur;
  Image out;
  out.width = cur.width;
  out.height = height;
  out.channels = ch;
  out.pixels.resize(static_cast<size_t>(out.width) * height * ch);
  for (int yy = 0; yy < height; ++yy) {
    const int ymin = cv.bounds[yy * 2], ymax = cv.bounds[yy * 2 + 1];
    const int32_t* k = &cv.k[static_cast<size_t>(yy) * cv.ksize];
    for (int xx = 0; xx < out.width; ++xx)
      for (int c = 0; c < ch; ++c) {
        int64_t ss = int64_t{1} << (kPrecisionBits - 1);
        for (int y = 0; y < ymax; ++y)
          ss += int64_t{cur.pixels[(static_cast<size_t>(y + ymin) * cur.width + xx) * ch + c]} * k[y];
        out.pixels[(static_cast<size_t>(yy) * out.width + xx) * ch + c] = clip8(ss);
      }
  }
  return out;
}

}  // namespace sdw
