// Canny edges through OpenCV (see canny.h).
#include "model/preprocess/canny.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <string>

namespace sdw {

Image canny_edges(const Image& image, double low, double high) {
  if (!std::isfinite(low) || !std::isfinite(high) || low < 0 || high > 255 || low > high)
    throw PreprocessError("canny thresholds must satisfy 0 <= low <= high <= 255, got " + std::to_string(low) + " and " +
                          std::to_string(high));
  Image rgb = to_rgb(image);
  const cv::Mat in(rgb.height, rgb.width, CV_8UC3, rgb.pixels.data());  // [H, W, 3], no copy
  cv::Mat edges;                                                          // [H, W] 0 / 255
  cv::Canny(in, edges, low, high);
  cv::Mat out;
  cv::cvtColor(edges, out, cv::COLOR_GRAY2RGB);  // [H, W, 3]
  Image result;
  result.width = rgb.width;
  result.height = rgb.height;
  result.channels = 3;
  result.pixels.assign(out.data, out.data + out.total() * out.elemSize());
  return result;
}

}  // namespace sdw
