// A1111's masked-content fill with Pillow's arithmetic (see mask_fill.h).
#include "model/image/mask_fill.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "model/image/pil_blend.h"

namespace sdw {
namespace {

// Pillow's box radius for one of `passes` box blurs that together have the variance of a Gaussian
// of standard deviation `radius` (Gwosdek et al., "Theoretical foundations of Gaussian convolution
// by extended box filtering"): an integer part and a fraction for the two end samples.
float box_radius(float radius, int passes) {
  const float sigma2 = radius * radius / static_cast<float>(passes);
  const float length = std::sqrt(12.0f * sigma2 + 1.0f);
  const float l = std::floor((length - 1.0f) / 2.0f);
  float a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2);
  a /= 6 * (sigma2 - (l + 1) * (l + 1));
  return l + a;
}

// One extended box blur pass along a line of `n` samples `stride` apart (one channel): each output
// is the window x - r .. x + r weighted 1 and its two outer neighbours weighted by the fraction,
// in Pillow's 8.24 fixed point, edges repeating the first and last sample, rounded to 8 bits.
void box_line(const uint8_t* in, uint8_t* out, int n, int stride, float radius, std::vector<uint32_t>& scratch) {
  const int r = static_cast<int>(radius);
  const uint32_t ww = static_cast<uint32_t>(static_cast<float>(1 << 24) / (radius * 2 + 1));
  const uint32_t fw = ((1u << 24) - static_cast<uint32_t>(r * 2 + 1) * ww) / 2;
  scratch.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) scratch[static_cast<size_t>(i)] = in[static_cast<size_t>(i) * stride];
  auto at = [&](int i) { return scratch[static_cast<size_t>(std::clamp(i, 0, n - 1))]; };
  uint32_t acc = 0;  // the window of x = 0
  for (int i = -r; i <= r; ++i) acc += at(i);
  for (int x = 0; x < n; ++x) {
    if (x > 0) acc += at(x + r) - at(x - r - 1);
    const uint64_t bulk = static_cast<uint64_t>(acc) * ww + static_cast<uint64_t>(at(x - r - 1) + at(x + r + 1)) * fw;
    out[static_cast<size_t>(x) * stride] = static_cast<uint8_t>((bulk + (1u << 23)) >> 24);
  }
}

}  // namespace

Image pil_gaussian_blur(const Image& image, float radius) {
  check_image(image);
  const float r = box_radius(radius, 3);
  Image out = image;
  if (r == 0.0f) return out;  // Pillow skips a zero-radius box blur
  const int w = image.width, h = image.height, ch = image.channels;
  std::vector<uint8_t> tmp(out.pixels.size());
  std::vector<uint32_t> scratch;
  for (int pass = 0; pass < 3; ++pass) {  // along x, three times
    for (int y = 0; y < h; ++y)
      for (int c = 0; c < ch; ++c) {
        const size_t o = (static_cast<size_t>(y) * w) * ch + c;
        box_line(out.pixels.data() + o, tmp.data() + o, w, ch, r, scratch);
      }
    out.pixels.swap(tmp);
  }
  for (int pass = 0; pass < 3; ++pass) {  // then along y
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < ch; ++c) {
        const size_t o = static_cast<size_t>(x) * ch + c;
        box_line(out.pixels.data() + o, tmp.data() + o, h, w * ch, r, scratch);
      }
    out.pixels.swap(tmp);
  }
  return out;
}

Image fill_masked_area(const Image& image, const Image& mask) {
  const Image rgb = to_rgb(image), gray = to_gray(mask);
  if (rgb.width != gray.width || rgb.height != gray.height)
    throw ImageError("the mask is " + std::to_string(gray.width) + "x" + std::to_string(gray.height) + " but the image is " +
                     std::to_string(rgb.width) + "x" + std::to_string(rgb.height));
  // The unmasked pixels pasted through the inverted mask onto a transparent premultiplied image:
  // every channel, alpha included, times (255 - mask) / 255, rounded.
  Image masked{rgb.width, rgb.height, 4, std::vector<uint8_t>(static_cast<size_t>(rgb.width) * rgb.height * 4)};
  for (size_t p = 0; p < gray.pixels.size(); ++p) {
    const uint32_t keep = 255u - gray.pixels[p];
    for (size_t c = 0; c < 3; ++c) masked.pixels[p * 4 + c] = pil::premultiply(rgb.pixels[p * 3 + c], keep);
    masked.pixels[p * 4 + 3] = pil::premultiply(255, keep);
  }
  Image result{rgb.width, rgb.height, 4, std::vector<uint8_t>(masked.pixels.size(), 0)};
  const std::pair<float, int> rounds[] = {{256.0f, 1}, {64.0f, 1}, {16.0f, 2}, {4.0f, 4}, {2.0f, 2}, {0.0f, 1}};
  for (const auto& [radius, repeats] : rounds) {
    Image blurred = pil_gaussian_blur(masked, radius);
    for (size_t i = 0; i < blurred.pixels.size(); i += 4)  // back to straight alpha (convert("RGBA"))
      for (size_t c = 0; c < 3; ++c) blurred.pixels[i + c] = pil::unpremultiply(blurred.pixels[i + c], blurred.pixels[i + 3]);
    for (int k = 0; k < repeats; ++k)
      for (size_t i = 0; i < result.pixels.size(); i += 4) pil::composite_over(&result.pixels[i], &blurred.pixels[i]);
  }
  return to_rgb(result);
}

}  // namespace sdw
