// Output formats (see output_format.h).
#include "model/image/output_format.h"

#include <algorithm>
#include <cctype>

namespace sdw {

std::string OutputFormat::canonical_name(const std::string& name) {
  std::string f = name;
  std::transform(f.begin(), f.end(), f.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (f == "jpg") f = "jpeg";
  if (f != "png" && f != "jpeg") throw ImageError("output_format must be 'png' or 'jpeg', got '" + name + "'");
  return f;
}

void OutputFormat::check() const {
  if (format != "png" && format != "jpeg")
    throw ImageError("output_format must be 'png' or 'jpeg', got '" + format + "'");
  if (format == "jpeg" && (jpeg_quality < 1 || jpeg_quality > 100))
    throw ImageError("jpeg_quality must be between 1 and 100");
}

EncodedImage OutputFormat::encode(const Image& image, const std::string& parameters) const {
  EncodedImage out;
  const bool jpeg = format == "jpeg";
  out.bytes = jpeg ? encode_jpeg(image, jpeg_quality) : encode_png(image, parameters);
  out.format = jpeg ? "jpeg" : "png";
  out.width = image.width;
  out.height = image.height;
  return out;
}

}  // namespace sdw
