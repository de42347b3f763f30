// Image I/O: decode PNG/JPEG/GIF/BMP with stb (files, bytes, base64 with or without a data: URL
// prefix), encode PNG with libpng (with an A1111-style `parameters` tEXt/iTXt chunk) and JPEG with
// libjpeg-turbo, conversions and resizing (stb). Rules and formats: docs/images.md.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
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

// Throws ImageError if width * height (each in [0, 2^32)) exceeds max_pixels, naming the limit.
void check_pixel_limit(int64_t width, int64_t height, int64_t max_pixels);

// Throws ImageError unless width, height > 0, channels is 1, 3 or 4 and pixels has exactly
// width * height * channels bytes.
void check_image(const Image& image);

// Decodes PNG, JPEG, GIF (first frame) or BMP, recognised by their signatures. The size is read
// from the header first: width * height > max_pixels is rejected before any pixel is decoded.
// Channels are the file's own: gray -> 1, RGB -> 3, RGBA -> 4; gray+alpha becomes RGBA, GIF is
// always RGBA, and a PNG with a tRNS colour key gives RGBA (alpha 0 where the key matches). 16-bit
// PNGs are reduced to 8 bits. max_pixels is capped at 2^27. Empty, unknown, corrupt or truncated
// data is an ImageError (with stb's reason).
Image decode_image(const std::string& bytes, int64_t max_pixels = kMaxInputPixels);
Image load_image(const std::string& path, int64_t max_pixels = kMaxInputPixels);
// Accepts plain base64 or a `data:<mime>;base64,` URL; whitespace is ignored, padding is
// optional, the URL-safe alphabet (-_) is accepted too. Invalid input is an ImageError that
// names the position (0-based, in `text`).
std::string decode_base64(const std::string& text);
// Standard alphabet, padded.
std::string encode_base64(const std::string& bytes);
Image decode_image_base64(const std::string& text, int64_t max_pixels = kMaxInputPixels);

// Converts to 3 channels (gray replicated, alpha discarded as PIL convert("RGB") does) or to 1
// channel (ITU-R 601-2 luma with Pillow's integer arithmetic, as PIL convert("L"); alpha ignored).
Image to_rgb(const Image& image);
Image to_gray(const Image& image);
// Resamples to exactly width x height (1..65535 each) with stb_image_resize's Catmull-Rom cubic
// filter, widened when downsampling (antialiased), on the 8-bit values as they are (no sRGB
// decoding), edges clamped, RGBA premultiplied by alpha while filtering.
Image resize(const Image& image, int width, int height);

// PNG bytes. `parameters` (UTF-8; if not empty) goes into a chunk with keyword "parameters"
// right after IHDR: tEXt (Latin-1) when every character is Latin-1, otherwise an uncompressed
// iTXt (UTF-8), as PIL's PngInfo.add_text does. Invalid UTF-8 or a NUL character is an
// ImageError.
std::string encode_png(const Image& image, const std::string& parameters = "");
// JPEG bytes (baseline, YCbCr; gray is written as 3 equal channels, alpha is dropped),
// quality 1-100 (otherwise ImageError).
std::string encode_jpeg(const Image& image, int quality = 90);
// Reads the tEXt and uncompressed iTXt chunks of a PNG (keyword -> text, both as UTF-8, in file
// order); zTXt and compressed iTXt are skipped. Validates the signature, every chunk's length and
// CRC and the presence of IEND: violations are an ImageError. Used by tests and tools.
std::vector<std::pair<std::string, std::string>> png_text_chunks(const std::string& png_bytes);

}  // namespace sdw
