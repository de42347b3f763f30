// How a finished image becomes a file, and the file itself: the one place that knows the output
// formats (PNG with the A1111 `parameters` chunk, or JPEG at a quality), their names as requests
// spell them, and their limits.
#pragma once

#include <string>

#include "model/image/image_io.h"

namespace sdw {

// An image file: PNG or JPEG bytes and what they hold.
struct EncodedImage {
  std::string bytes;   // PNG or JPEG file bytes
  std::string format;  // "png" | "jpeg"
  int width = 0, height = 0;
};

struct OutputFormat {
  std::string format = "png";  // "png" | "jpeg"
  int jpeg_quality = 90;       // 1-100, JPEG only

  // "png", "jpeg" or "jpg" in any case -> "png" | "jpeg"; anything else is an ImageError that
  // says what is accepted.
  static std::string canonical_name(const std::string& name);
  // Throws ImageError unless the format is "png" or "jpeg" and the quality is within 1-100.
  void check() const;
  // The file of `image` (check() first): PNG with `parameters` as its "parameters" chunk, or JPEG.
  EncodedImage encode(const Image& image, const std::string& parameters) const;
};

}  // namespace sdw
