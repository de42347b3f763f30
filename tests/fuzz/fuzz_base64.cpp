// libFuzzer target: the text of an image field (plain base64 or a data: URL, model/image/
// base64.cpp) through decode_image_base64. Decoding must either fail with an ImageError or give
// bytes that encode_base64 turns back into text decoding to the same bytes; those bytes then go
// to decode_image as the server sends them.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "model/image/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kMaxPixels = 1024 * 1024;  // as fuzz_image_decode
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string bytes;
  try {
    bytes = sdw::decode_base64(text);
  } catch (const sdw::ImageError&) {
    return 0;
  }
  SDW_FUZZ_CHECK(bytes.size() <= text.size() / 4 * 3 + 2);
  const std::string encoded = sdw::encode_base64(bytes);
  SDW_FUZZ_CHECK(encoded.size() % 4 == 0);
  SDW_FUZZ_CHECK(sdw::decode_base64(encoded) == bytes);
  try {
    const sdw::Image image = sdw::decode_image_base64(text, kMaxPixels);
    sdw::check_image(image);
  } catch (const sdw::ImageError&) {
  }
  return 0;
}
