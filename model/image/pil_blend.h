// Pillow's 8-bit blending arithmetic (Paste.c, Convert.c, AlphaComposite.c), shared by the A1111
// inpainting steps that run through Pillow there (mask_overlay.h, mask_fill.h), so their pixels
// match Pillow's bit for bit.
#pragma once

#include <algorithm>
#include <cstdint>

namespace sdw::pil {

// Pillow's DIV255: x / 255 rounded, as (x + 128 + ((x + 128) >> 8)) >> 8.
inline uint32_t div255(uint32_t x) {
  const uint32_t t = x + 128;
  return ((t >> 8) + t) >> 8;
}

// A channel pasted through a mask value `a` onto a transparent image (paste's BLEND with a zero
// destination; RGB -> RGBa premultiplies the same way).
inline uint8_t premultiply(uint32_t v, uint32_t a) { return static_cast<uint8_t>(div255(v * a)); }

// RGBa -> RGBA: 255 * v / a truncated and clipped; alpha 0 and 255 leave the value as it is.
inline uint8_t unpremultiply(uint32_t v, uint32_t a) {
  if (a == 0 || a == 255) return static_cast<uint8_t>(v);
  return static_cast<uint8_t>(std::min<uint32_t>(255 * v / a, 255));
}

// Image.alpha_composite for one RGBA pixel, `src` over `dst` (straight alpha), in place: 7 extra
// bits of precision, divisions by 255 rounded. A transparent `src` leaves `dst`.
inline void composite_over(uint8_t* dst, const uint8_t* src) {
  constexpr uint32_t kBits = 7;
  const uint32_t sa = src[3];
  if (sa == 0) return;
  const uint32_t blend = dst[3] * (255 - sa);
  const uint32_t outa255 = sa * 255 + blend;
  const uint32_t coef1 = sa * 255 * 255 * (1u << kBits) / outa255;
  const uint32_t coef2 = 255 * (1u << kBits) - coef1;
  for (int c = 0; c < 3; ++c) {
    const uint32_t v = src[c] * coef1 + dst[c] * coef2 + (0x80u << kBits);
    dst[c] = static_cast<uint8_t>((((v >> 8) + v) >> 8) >> kBits);
  }
  const uint32_t a = outa255 + 0x80;
  dst[3] = static_cast<uint8_t>(((a >> 8) + a) >> 8);
}

}  // namespace sdw::pil
