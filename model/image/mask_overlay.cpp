// A1111's inpainting overlay (see mask_overlay.h).
#include "model/image/mask_overlay.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace sdw {
namespace {

// Pillow's DIV255: (x + 128 + ((x + 128) >> 8)) >> 8, x / 255 rounded.
uint32_t div255(uint32_t x) {
  const uint32_t t = x + 128;
  return ((t >> 8) + t) >> 8;
}

constexpr uint32_t kPrecisionBits = 7;  // Pillow's AlphaComposite.c

}  // namespace

Image a1111_mask_overlay(const Image& result, const Image& original, const Image& mask) {
  if (result.channels != 3 || original.channels != 3 || mask.channels != 1)
    throw std::invalid_argument("a1111_mask_overlay: RGB result and original, a one-channel mask");
  if (original.width != result.width || original.height != result.height || mask.width != result.width ||
      mask.height != result.height)
    throw std::invalid_argument("a1111_mask_overlay: the images and the mask must have one size");
  Image out = result;
  const size_t n = static_cast<size_t>(result.width) * result.height;
  for (size_t i = 0; i < n; ++i) {
    // 1. the overlay's alpha
    const uint32_t a = 255 - std::min<uint32_t>(2u * mask.pixels[i], 255u);
    if (a == 0) continue;  // alpha_composite keeps the result
    for (size_t c = 0; c < 3; ++c) {
      // 2. premultiplied by the paste, then un-premultiplied by the conversion to RGBA
      const uint32_t premultiplied = div255(original.pixels[i * 3 + c] * a);
      const uint32_t src = a == 255 ? premultiplied : std::min<uint32_t>(255 * premultiplied / a, 255);
      // 3. alpha_composite over an opaque pixel: coef1 = a * 2^7, coef2 = (255 - a) * 2^7
      const uint32_t dst = result.pixels[i * 3 + c];
      const uint32_t t = (src * a + dst * (255 - a)) << kPrecisionBits;
      const uint32_t v = t + (0x80u << kPrecisionBits);
      out.pixels[i * 3 + c] = static_cast<uint8_t>((((v >> 8) + v) >> 8) >> kPrecisionBits);
    }
  }
  return out;
}

}  // namespace sdw
