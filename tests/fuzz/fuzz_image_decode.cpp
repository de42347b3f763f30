// libFuzzer target: image bytes through decode_image (model/image/image_decode.cpp): format
// sniffing, the pixel limit read from the header, the JPEG and PNG walks of stb_guards.cpp and
// stb_image itself (compiled instrumented, stb_image_impl.cpp). Bytes must either decode into a
// consistent Image within the limit or be an ImageError, and decode the same whatever stb's
// fresh allocations held (two runs under different fill bytes, stb_fill.h).
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "model/image/image_io.h"
#include "stb_fill.h"

namespace {

// A smaller limit than the server's (kMaxInputPixels, 4096 x 4096) keeps each run fast; the
// limit is a parameter, so the checks that enforce it are exercised all the same.
constexpr int64_t kMaxPixels = 1024 * 1024;

// The image, or an empty one (channels 0) for an ImageError.
sdw::Image decode_with_fill(const std::string& bytes, unsigned char fill) {
  sdw_fuzz_set_stb_fill(fill);
  try {
    return sdw::decode_image(bytes, kMaxPixels);
  } catch (const sdw::ImageError&) {
    return {};
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const sdw::Image image = decode_with_fill(bytes, 0x00);
  const sdw::Image again = decode_with_fill(bytes, 0xff);
  SDW_FUZZ_CHECK(image.channels == again.channels);  // both decode or both fail
  if (image.channels == 0) return 0;
  sdw::check_image(image);
  SDW_FUZZ_CHECK(int64_t(image.width) * image.height <= kMaxPixels);
  SDW_FUZZ_CHECK(image.width == again.width && image.height == again.height);
  SDW_FUZZ_CHECK(image.pixels == again.pixels);  // no uninitialised memory in the pixels
  return 0;
}
