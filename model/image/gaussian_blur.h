// The Gaussian blur AUTOMATIC1111 gives inpainting masks (modules/processing.py,
// StableDiffusionProcessingImg2Img.init): OpenCV's cv2.GaussianBlur on the 8-bit mask, once along
// x with ksize (k, 1) and once along y with (1, k), k = 2 * int(2.5 * blur + 0.5) + 1 and
// sigma = blur, as OpenCV computes 8-bit blurs (its bit-exact fixed-point path): the kernel in
// 8.8 fixed point with the rounding errors diffused from the outside in, the border
// BORDER_REFLECT_101 (... 2 1 | 0 1 2 ... n-2 n-1 | n-2 ...), each call's exact sum rounded half
// up to 8 bits. Equal to OpenCV 4.6's output pixel for pixel (tests/fixtures/a1111).
#pragma once

#include "model/image/image_io.h"

namespace sdw {

// `gray`: one channel. `blur` <= 0: the image unchanged.
Image gaussian_blur_a1111(const Image& gray, int blur);

}  // namespace sdw
