// Image I/O with stb: decode PNG/JPEG (files, bytes, base64 with or without a data: URL prefix),
// encode PNG (with an A1111-style `parameters` tEXt chunk) and JPEG, conversions and resizing.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sdw {

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// 8-bit interleaved pixels, row-major, `channels` per pixel (1 = gray, 3 = RGB, 4 = RGBA).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  // width * height * channels
};

// Largest accepted input (width * height); larger images are an ImageError.
constexpr int64_t kMaxInputPixels = 4096ll * 4096ll;

Image decode_image(const std::string& bytes, int64_t max_pixels = kMaxInputPixels);
Image load_image(const std::string& path, int64_t max_pixels = kMaxInputPixels);
// Accepts plain base64 or a `data:image/...;base64,` URL; whitespace is ignored.
std::string decode_base64(const std::string& text);
std::string encode_base64(const std::string& bytes);
Image decode_image_base64(const std::string& text, int64_t max_pixels = kMaxInputPixels);

// Converts to 3 channels (gray replicated, alpha discarded as PIL convert("RGB") does) or to 1
// channel (ITU-R 601-2 luma, as PIL convert("L")).
Image to_rgb(const Image& image);
Image to_gray(const Image& image);
// Resamples to exactly width x height (bilinear-ish area filter of stb_image_resize).
Image resize(const Image& image, int width, int height);

// PNG bytes; `parameters` (if not empty) goes into a tEXt chunk with keyword "parameters".
std::string encode_png(const Image& image, const std::string& parameters = "");
// JPEG bytes, quality 1-100.
std::string encode_jpeg(const Image& image, int quality = 90);
// Reads the tEXt chunks of a PNG (keyword -> text); used by tests and tools.
std::vector<std::pair<std::string, std::string>> png_text_chunks(const std::string& png_bytes);

}  // namespace sdw
