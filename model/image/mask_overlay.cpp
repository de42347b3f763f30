// A1111's inpainting overlay (see mask_overlay.h).
#include "model/image/mask_overlay.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "model/image/pil_blend.h"

namespace sdw {

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
    // 2. premultiplied by the paste, then un-premultiplied by the conversion to RGBA
    uint8_t src[4], dst[4] = {0, 0, 0, 255};
    for (size_t c = 0; c < 3; ++c) {
      src[c] = pil::unpremultiply(pil::premultiply(original.pixels[i * 3 + c], a), a);
      dst[c] = result.pixels[i * 3 + c];
    }
    src[3] = static_cast<uint8_t>(a);
    // 3. alpha_composite over the opaque result
    pil::composite_over(dst, src);
    for (size_t c = 0; c < 3; ++c) out.pixels[i * 3 + c] = dst[c];
  }
  return out;
}

}  // namespace sdw
