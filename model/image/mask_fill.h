// AUTOMATIC1111's "fill" masked content (inpainting_fill 0; modules/masking.py's fill): before the
// init image is encoded, its masked area is painted with the colours around it. The unmasked
// pixels, weighted by 255 - mask, are premultiplied by that weight as alpha; the image is then
// blurred with Pillow's GaussianBlur at radii 256, 64, 16, 4, 2 and 0, and each blur (back to
// straight alpha) is alpha-composited over the result 1, 1, 2, 4, 2 and 1 times, starting from a
// transparent image; the alpha is dropped at the end. The wide blurs reach deep into the mask, the
// narrow ones keep the nearby colours, and the last (radius 0) puts the unmasked pixels back.
//
// Every step in Pillow's 8-bit arithmetic (Pillow 9.x): its Gaussian blur as three passes of its
// extended box blur per axis (the box radius from the variance, fractional ends, edges repeated,
// each pass rounded to 8 bits), its RGBa -> RGBA division, and its alpha_composite's rounding.
// tests/model/image/test_mask_fill.cpp compares against Pillow's own output.
#pragma once

#include "model/image/image_io.h"

namespace sdw {

// `image`: RGB (or RGBA/gray, converted to RGB); `mask`: gray (or converted), white = masked, the
// same size. Returns the filled RGB image. Throws ImageError when the sizes differ.
Image fill_masked_area(const Image& image, const Image& mask);

// Pillow's Image.filter(ImageFilter.GaussianBlur(radius)) of an 8-bit image of any channel count.
Image pil_gaussian_blur(const Image& image, float radius);

}  // namespace sdw
