// Decoding of images with stb_image (decode_image, load_image, decode_image_base64 of
// image_io.h): format sniffing, the pixel limit checked from the header before any pixel is
// decoded, the guards of stb_guards.h; and the Image checks every function of image_io.h uses.
// Encoding is png_encode.cpp (libpng) and jpeg_encode.cpp (libjpeg-turbo).
#include "model/image/image_io.h"

#include <stb_image.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <memory>

#include "model/image/stb_guards.h"

namespace sdw {
namespace {

// Absolute cap on decoded pixels, far inside stb's int-sized buffers (16-bit RGBA: 8 bytes/pixel).
constexpr int64_t kHardMaxPixels = int64_t(1) << 27;

enum class Format { kPng, kJpeg, kGif, kBmp, kUnknown };

// Only these signatures reach stb: the other formats stb knows (TGA, PSD, PIC, PNM, HDR) are
// refused, TGA in particular having no signature (arbitrary bytes can look like one).
Format sniff(const std::string& b) {
  if (b.size() >= 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0) return Format::kPng;
  if (b.size() >= 3 && uint8_t(b[0]) == 0xff && uint8_t(b[1]) == 0xd8 && uint8_t(b[2]) == 0xff) return Format::kJpeg;
  if (b.size() >= 6 && (b.compare(0, 6, "GIF87a") == 0 || b.compare(0, 6, "GIF89a") == 0)) return Format::kGif;
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return Format::kBmp;
  return Format::kUnknown;
}

const char* format_name(Format f) {
  switch (f) {
    case Format::kPng: return "PNG";
    case Format::kJpeg: return "JPEG";
    case Format::kGif: return "GIF";
    case Format::kBmp: return "BMP";
    default: return "unknown";
  }
}

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown error";
}

struct StbFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

std::string dims(int64_t w, int64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

}  // namespace

void check_pixel_limit(int64_t width, int64_t height, int64_t max_pixels) {
  // Sides below 2^32 (a PNG header's are read as 32-bit unsigned): the product fits in 64 unsigned
  // bits, where in int64_t it could overflow (and wrap past the limit).
  const uint64_t pixels = uint64_t(width) * uint64_t(height);
  if (max_pixels < 0 || pixels > uint64_t(max_pixels)) {
    throw ImageError("image of " + dims(width, height) + " = " + std::to_string(pixels) +
                     " pixels exceeds the limit of " + std::to_string(max_pixels) + " pixels");
  }
}

void check_image(const Image& image) {
  if (image.width <= 0 || image.height <= 0) throw ImageError("invalid image size " + dims(image.width, image.height));
  if (image.channels != 1 && image.channels != 3 && image.channels != 4) {
    throw ImageError("invalid channel count " + std::to_string(image.channels) + " (expected 1, 3 or 4)");
  }
  uint64_t expected = uint64_t(image.width) * uint64_t(image.height) * uint64_t(image.channels);
  if (image.pixels.size() != expected) {
    throw ImageError("image buffer has " + std::to_string(image.pixels.size()) + " bytes, expected " +
                     std::to_string(expected) + " for " + dims(image.width, image.height) + "x" +
                     std::to_string(image.channels));
  }
}

Image decode_image(const std::string& bytes, int64_t max_pixels) {
  if (bytes.empty()) throw ImageError("empty image data");
  if (bytes.size() > size_t(INT_MAX)) throw ImageError("image data too large: " + std::to_string(bytes.size()) + " bytes");
  Format format = sniff(bytes);
  if (format == Format::kUnknown) throw ImageError("unsupported image format (accepted: PNG, JPEG, GIF, BMP)");
  const char* name = format_name(format);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = int(bytes.size());
  // Whatever the caller allows (stb computes buffer sizes in int).
  max_pixels = std::min(max_pixels, kHardMaxPixels);

  // Before stb reads any of it (stb_guards.h).
  if (format == Format::kJpeg) check_jpeg_before_decode(bytes);
  if (format == Format::kPng) check_png_before_decode(bytes, max_pixels);  // checks the size too
  if (format == Format::kBmp) check_bmp_before_decode(bytes);
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp)) throw ImageError(std::string("invalid ") + name + " header: " + stb_reason());
  if (w <= 0 || h <= 0) throw ImageError(std::string("invalid ") + name + " size " + dims(w, h));
  check_pixel_limit(w, h, max_pixels);

  stbi_set_flip_vertically_on_load_thread(0);  // whatever another caller set globally
  int dw = 0, dh = 0, dc = 0;
  std::unique_ptr<stbi_uc, StbFree> pixels(stbi_load_from_memory(data, len, &dw, &dh, &dc, 0));
  if (!pixels) throw ImageError(std::string("cannot decode ") + name + ": " + stb_reason());
  if (dw <= 0 || dh <= 0 || dc < 1 || dc > 4) throw ImageError(std::string("invalid decoded ") + name + " " + dims(dw, dh));
  check_pixel_limit(dw, dh, max_pixels);  // the header said the same; never trust it twice

  Image image;
  image.width = dw;
  image.height = dh;
  const size_t n = size_t(dw) * size_t(dh);
  const stbi_uc* src = pixels.get();
  if (dc == 2) {  // gray + alpha (also gray + tRNS colour key) -> RGBA
    image.channels = 4;
    image.pixels.resize(n * 4);
    for (size_t i = 0; i < n; ++i) {
      image.pixels[4 * i] = image.pixels[4 * i + 1] = image.pixels[4 * i + 2] = src[2 * i];
      image.pixels[4 * i + 3] = src[2 * i + 1];
    }
  } else {
    image.channels = dc;
    image.pixels.assign(src, src + n * size_t(dc));
  }
  return image;
}

Image load_image(const std::string& path, int64_t max_pixels) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw ImageError("cannot open image file '" + path + "'");
  std::streamoff size = in.tellg();
  if (size < 0) throw ImageError("cannot read image file '" + path + "'");
  if (size > std::streamoff(INT_MAX)) throw ImageError("image file '" + path + "' too large: " + std::to_string(size) + " bytes");
  std::string bytes(size_t(size), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), size)) throw ImageError("cannot read image file '" + path + "'");
  try {
    return decode_image(bytes, max_pixels);
  } catch (const ImageError& e) {
    throw ImageError(path + ": " + e.what());
  }
}

Image decode_image_base64(const std::string& text, int64_t max_pixels) {
  std::string bytes = decode_base64(text);
  if (bytes.empty()) throw ImageError("empty image data (no base64 payload)");
  return decode_image(bytes, max_pixels);
}

}  // namespace sdw
