// The canny control-image preprocessor (sd-webui-controlnet's "canny", diffusers' ControlNet
// examples): OpenCV's cv::Canny on the RGB image, the edge map repeated into three channels.
// OpenCV (Debian's libopencv-core-dev + libopencv-imgproc-dev) stays inside canny.cpp.
#pragma once

#include <stdexcept>

#include "model/image/image_io.h"

namespace sdw {

class PreprocessError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// cv::Canny(rgb, edges, low, high) (aperture 3, L1 gradient, OpenCV's defaults; on three
// channels the gradient is the largest of the channels') -> a 3-channel image of the same size,
// every pixel 0 or 255 (the edge map in R, G and B). Thresholds 0..255 with low <= high, else
// PreprocessError.
Image canny_edges(const Image& image, double low, double high);

}  // namespace sdw
