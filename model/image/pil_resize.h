// Pillow's `Image.resize(size, Image.LANCZOS)` on 8-bit images, bit for bit (Pillow's Resample.c:
// a separable Lanczos-3 filter widened by the scale when shrinking, coefficients normalised and
// rounded to 22-bit fixed point, a horizontal pass over the rows the vertical pass needs, then a
// vertical pass, each rounded and clipped to 8 bits). diffusers' VaeImageProcessor resizes init
// images and masks this way (resample="lanczos") when their size differs from the request's.
#pragma once

#include "model/image/image_io.h"

namespace sdw {

// Any channel count (each channel filtered alone, as Pillow does for L, RGB and RGBA);
// width and height >= 1. Returns a copy when the size is unchanged.
Image resize_lanczos_pil(const Image& image, int width, int height);

}  // namespace sdw
