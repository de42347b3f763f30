// AUTOMATIC1111's last inpainting step (modules/processing.py, "Whole picture" inpainting): the
// original image is pasted back over the generated one through the mask, so that only the masked
// area changes and a blurred mask (mask_blur) gives soft edges. Pillow's arithmetic, bit for bit:
//   1. mask_for_overlay = clip(2 * mask, 0, 255), its inverse a = 255 - mask_for_overlay;
//   2. the original pasted into an empty RGBa image through a: each channel (v * a) / 255 rounded
//      (Pillow's DIV255), alpha a; converted to RGBA: 255 * v / a truncated (a 0 or 255: kept);
//   3. alpha_composite over the generated image (alpha 255), Pillow's 7-bit fixed point.
#pragma once

#include "model/image/image_io.h"

namespace sdw {

// `result` and `original` RGB, `mask` one channel (white = repainted), all of one size.
Image a1111_mask_overlay(const Image& result, const Image& original, const Image& mask);

}  // namespace sdw
