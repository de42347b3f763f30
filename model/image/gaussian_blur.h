// The Gaussian blur AUTOMATIC1111 gives inpainting masks (modules/processing.py,
// StableDiffusionProcessingImg2Img.init): OpenCV's cv2.GaussianBlur on the 8-bit mask, once along
// x with ksize (k, 1) and once along y with (1, k), k = 2 * int(2.5 * blur + 0.5) + 1 and
// sigma = blur. Each pass: getGaussianKernel's weights exp(-(i - (k-1)/2)^2 / (2 sigma^2))
// normalised to sum 1, OpenCV's default border (BORDER_REFLECT_101: ... 2 1 | 0 1 2 ... n-2 | n-1
// n-2 ...), the sum rounded half to even (saturate_cast) to 8 bits. OpenCV runs 8-bit blurs in
// fixed point (its bit-exact path), which can differ from this floating-point sum by one level;
// that was not checked against OpenCV.
#pragma once

#include "model/image/image_io.h"

namespace sdw {

// `gray`: one channel. `blur` <= 0: the image unchanged.
Image gaussian_blur_a1111(const Image& gray, int blur);

}  // namespace sdw
