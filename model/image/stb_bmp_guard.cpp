// The BMP check in front of stb_image 2.27 (check_bmp_before_decode, stb_guards.h): stb keeps a
// palette image's palette in a stack array it does not initialise and reads as many entries as
// the header's data offset leaves room for (none when that count comes out negative), so pixel
// indices past them give whatever the stack held. This walk reads the header, palette size and
// pixel indices exactly as stbi__bmp_parse_header and stbi__bmp_load do.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "model/image/image_io.h"
#include "model/image/stb_guards.h"

namespace sdw {
namespace {

// Little-endian reads with stb's semantics: past the end reads 0, a negative skip goes to the end.
class LeReader {
 public:
  explicit LeReader(const std::string& s) : s_(s) {}
  bool at_eof() const { return pos_ >= s_.size(); }
  int get8() { return pos_ < s_.size() ? uint8_t(s_[pos_++]) : 0; }
  uint32_t get16() {
    const uint32_t lo = uint32_t(get8());
    return lo | (uint32_t(get8()) << 8);
  }
  uint32_t get32() {
    const uint32_t lo = get16();
    return lo | (get16() << 16);
  }
  void skip(int64_t n) {
    if (n < 0 || uint64_t(n) >= s_.size() - pos_) {
      pos_ = s_.size();
    } else {
      pos_ += size_t(n);
    }
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

// The largest palette index the pixel rows hold, read as stbi__bmp_load reads them (reads past the
// end are index 0). Stops at the end of the data, so it costs no more than the file's size.
int max_palette_index(LeReader& r, int bpp, int64_t width, int64_t height) {
  const int64_t row_bytes = bpp == 1 ? (width + 7) >> 3 : bpp == 4 ? (width + 1) >> 1 : width;
  const int64_t pad = (-row_bytes) & 3;
  int max_index = 0;
  for (int64_t y = 0; y < height && !r.at_eof(); ++y) {
    for (int64_t b = 0; b < row_bytes && !r.at_eof(); ++b) {
      const int v = r.get8();
      int index = v;
      if (bpp == 1) {
        const int64_t used = std::min<int64_t>(8, width - 8 * b);  // pixels in this byte, high bits first
        index = (used >= 8 ? v : v >> (8 - used)) != 0 ? 1 : 0;
      } else if (bpp == 4) {
        index = 2 * b + 1 < width ? std::max(v >> 4, v & 15) : v >> 4;
      }
      max_index = std::max(max_index, index);
    }
    r.skip(pad);
  }
  return max_index;
}

}  // namespace

void check_bmp_before_decode(const std::string& bmp) {
  LeReader r(bmp);
  if (r.get8() != 'B' || r.get8() != 'M') return;
  r.skip(8);  // file size, reserved
  const int32_t offset = int32_t(r.get32());
  const int32_t header_size = int32_t(r.get32());
  if (offset < 0) return;  // stb fails for the rest as well
  if (header_size != 12 && header_size != 40 && header_size != 56 && header_size != 108 && header_size != 124) return;
  const int64_t width = header_size == 12 ? int64_t(r.get16()) : int64_t(r.get32());
  const int64_t height = header_size == 12 ? int64_t(r.get16()) : std::abs(int64_t(int32_t(r.get32())));
  if (r.get16() != 1) return;  // planes
  const int bpp = int(r.get16());
  if (bpp != 1 && bpp != 4 && bpp != 8) return;  // no palette (or stb fails)
  if (header_size != 12) {
    const int32_t compression = int32_t(r.get32());
    if (compression == 1 || compression == 2 || compression >= 3) return;  // RLE, bitfields, JPEG/PNG: stb fails
    r.skip(header_size - 20);  // the rest of the header (after size, width, height, planes, bpp, compression)
  }
  // stb: psize = (offset - 14 - 24) / 3 for 12-byte headers, (offset - 14 - hsz) >> 2 otherwise.
  const int32_t palette_size = header_size == 12 ? (offset - 14 - 24) / 3 : (offset - 14 - header_size) >> 2;
  if (palette_size == 0 || palette_size > 256) return;  // stb fails
  if (palette_size < 0) {
    throw ImageError("corrupt BMP: its data offset " + std::to_string(offset) + " leaves no room for a palette");
  }
  const int entry = header_size == 12 ? 3 : 4;
  r.skip(int64_t(palette_size) * entry);
  r.skip(int64_t(offset) - 14 - header_size - int64_t(palette_size) * entry);
  if (width <= 0 || width > (1 << 24) || height > (1 << 24)) return;  // stb fails or decode_image refuses
  const int max_index = max_palette_index(r, bpp, width, height);
  if (max_index >= palette_size) {
    throw ImageError("corrupt BMP: pixel index " + std::to_string(max_index) + " but the palette has " +
                     std::to_string(palette_size) + " entries");
  }
}

}  // namespace sdw
