// Pixel conversions with PIL's semantics (convert("RGB"), convert("L")) and resizing with
// stb_image_resize.
#include <stb_image_resize.h>

#include "model/image/image_io.h"

namespace sdw {
namespace {

// Largest resize output (width * height): 2^27 pixels, e.g. 16384 x 8192.
constexpr int64_t kMaxResizePixels = int64_t(1) << 27;

// Pillow's rgb2l (libImaging/Convert.c): L24 = R*19595 + G*38470 + B*7471 + 0x8000, L = L24 >> 16,
// the ITU-R 601-2 weights 0.299/0.587/0.114 in 16-bit fixed point, rounded half up.
inline uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
  return uint8_t((uint32_t(r) * 19595u + uint32_t(g) * 38470u + uint32_t(b) * 7471u + 0x8000u) >> 16);
}

}  // namespace

Image to_rgb(const Image& image) {
  check_image(image);
  if (image.channels == 3) return image;
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.channels = 3;
  const size_t n = size_t(image.width) * size_t(image.height);
  out.pixels.resize(n * 3);
  const uint8_t* src = image.pixels.data();
  uint8_t* dst = out.pixels.data();
  if (image.channels == 1) {
    for (size_t i = 0; i < n; ++i) dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i];
  } else {  // 4: alpha dropped, no compositing (PIL convert("RGB"))
    for (size_t i = 0; i < n; ++i) {
      dst[3 * i] = src[4 * i];
      dst[3 * i + 1] = src[4 * i + 1];
      dst[3 * i + 2] = src[4 * i + 2];
    }
  }
  return out;
}

Image to_gray(const Image& image) {
  check_image(image);
  if (image.channels == 1) return image;
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.channels = 1;
  const size_t n = size_t(image.width) * size_t(image.height);
  const size_t c = size_t(image.channels);
  out.pixels.resize(n);
  const uint8_t* src = image.pixels.data();
  for (size_t i = 0; i < n; ++i) out.pixels[i] = luma(src[c * i], src[c * i + 1], src[c * i + 2]);
  return out;
}

Image resize(const Image& image, int width, int height) {
  check_image(image);
  if (width < 1 || height < 1 || width > 65535 || height > 65535 || int64_t(width) * height > kMaxResizePixels) {
    throw ImageError("invalid resize target " + std::to_string(width) + "x" + std::to_string(height) +
                     " (each side 1-65535, at most " + std::to_string(kMaxResizePixels) + " pixels)");
  }
  if (width == image.width && height == image.height) return image;
  Image out;
  out.width = width;
  out.height = height;
  out.channels = image.channels;
  out.pixels.resize(size_t(width) * size_t(height) * size_t(image.channels));
  const int alpha = image.channels == 4 ? 3 : STBIR_ALPHA_CHANNEL_NONE;
  if (!stbir_resize_uint8_generic(image.pixels.data(), image.width, image.height, image.width * image.channels,
                                  out.pixels.data(), width, height, width * image.channels, image.channels, alpha,
                                  0, STBIR_EDGE_CLAMP, STBIR_FILTER_CATMULLROM, STBIR_COLORSPACE_LINEAR, nullptr)) {
    throw ImageError("resize to " + std::to_string(width) + "x" + std::to_string(height) + " failed");
  }
  return out;
}

}  // namespace sdw
