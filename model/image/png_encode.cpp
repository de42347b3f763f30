// PNG writing with zlib's deflate (see png_encode.h).
#include "model/image/png_encode.h"

#include <zlib.h>

#include <climits>
#include <vector>

#include "model/image/image_io.h"

namespace sdw {
namespace {

constexpr char kSignature[] = "\x89PNG\r\n\x1a\n";

void append_be32(std::string& out, uint32_t v) {
  const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(b, 4);
}

// length, type, data, CRC-32 of type + data
void append_chunk(std::string& out, const char type[4], const uint8_t* data, size_t size) {
  append_be32(out, static_cast<uint32_t>(size));
  const size_t type_at = out.size();
  out.append(type, 4);
  out.append(reinterpret_cast<const char*>(data), size);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(out.data() + type_at), 4);
  if (size > 0) crc = crc32(crc, data, static_cast<uInt>(size));
  append_be32(out, static_cast<uint32_t>(crc));
}

int color_type(int channels) {
  switch (channels) {
    case 1: return 0;  // grayscale
    case 2: return 4;  // grayscale + alpha
    case 3: return 2;  // truecolour
    case 4: return 6;  // truecolour + alpha
  }
  throw ImageError("PNG: unsupported channel count " + std::to_string(channels));
}

}  // namespace

std::string encode_png_pixels(const uint8_t* pixels, int width, int height, int channels) {
  const int ct = color_type(channels);
  if (width <= 0 || height <= 0) throw ImageError("PNG: empty image");
  const size_t row = size_t(width) * size_t(channels);
  const size_t filtered_size = (row + 1) * size_t(height);
  if (filtered_size > size_t(UINT_MAX) / 2) throw ImageError("PNG: image too large to encode");

  // Row filters: none for the first row, "Up" (byte minus the byte above) for the others.
  std::vector<uint8_t> filtered(filtered_size);
  for (int y = 0; y < height; ++y) {
    uint8_t* dst = filtered.data() + size_t(y) * (row + 1);
    const uint8_t* cur = pixels + size_t(y) * row;
    if (y == 0) {
      dst[0] = 0;
      std::copy(cur, cur + row, dst + 1);
      continue;
    }
    const uint8_t* up = cur - row;
    dst[0] = 2;
    for (size_t i = 0; i < row; ++i) dst[1 + i] = static_cast<uint8_t>(cur[i] - up[i]);
  }

  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15, 8, Z_RLE) != Z_OK) throw ImageError("PNG: zlib deflateInit2 failed");
  std::vector<uint8_t> idat(deflateBound(&zs, static_cast<uLong>(filtered_size)));
  zs.next_in = filtered.data();
  zs.avail_in = static_cast<uInt>(filtered_size);
  zs.next_out = idat.data();
  zs.avail_out = static_cast<uInt>(idat.size());
  const int rc = deflate(&zs, Z_FINISH);
  const size_t idat_size = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw ImageError("PNG: zlib deflate failed (" + std::to_string(rc) + ")");

  std::string out;
  out.reserve(8 + 25 + idat_size + 12 + 12);
  out.append(kSignature, 8);
  uint8_t ihdr[13] = {uint8_t(width >> 24), uint8_t(width >> 16), uint8_t(width >> 8), uint8_t(width),
                      uint8_t(height >> 24), uint8_t(height >> 16), uint8_t(height >> 8), uint8_t(height),
                      8 /*bit depth*/, uint8_t(ct), 0 /*deflate*/, 0 /*adaptive filtering*/, 0 /*no interlace*/};
  append_chunk(out, "IHDR", ihdr, sizeof(ihdr));
  append_chunk(out, "IDAT", idat.data(), idat_size);
  append_chunk(out, "IEND", nullptr, 0);
  return out;
}

}  // namespace sdw
