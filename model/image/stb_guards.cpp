// Pre-decode checks for stb_image 2.27 (see stb_guards.h): a JPEG marker walk that follows stb's
// (header markers, SOF, SOS + entropy-coded data, markers between scans) to refuse oversized
// Huffman tables, scan floods and scans that use undefined Huffman tables, and a PNG chunk walk
// with a bounded trial inflate of the IDAT data.
#include "model/image/stb_guards.h"

#include <stb_image.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "model/image/image_io.h"

namespace sdw {
namespace {

constexpr int kMarkerNone = 0xff;  // stb's STBI__MARKER_none

// A byte reader with stb's semantics: reads past the end yield 0.
class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  bool at_eof() const { return pos_ >= s_.size(); }
  int get8() { return pos_ < s_.size() ? uint8_t(s_[pos_++]) : 0; }
  int get16() {
    int hi = get8();
    return (hi << 8) | get8();
  }
  void skip(long n) {  // past the end is the end
    if (n <= 0) return;
    size_t left = s_.size() - pos_;
    pos_ += size_t(n) >= left ? left : size_t(n);
  }
  size_t pos() const { return pos_; }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

// stbi__get_marker with the cached marker.
int get_marker(Reader& r, int& cached) {
  if (cached != kMarkerNone) {
    int m = cached;
    cached = kMarkerNone;
    return m;
  }
  int x = r.get8();
  if (x != 0xff) return kMarkerNone;
  while (x == 0xff) {
    if (r.at_eof()) return 0;  // stb reads a 0 at the end
    x = r.get8();
  }
  return x;
}

// The Huffman tables defined so far ([0] DC, [1] AC; ids 0-3). stb keeps its tables in memory it
// does not initialise, so a scan that uses a table no DHT defined decodes whatever was there.
struct HuffmanTables {
  bool defined[2][4] = {};
};

// DHT segment as stbi__process_marker reads it. Returns false where stb stops with an error.
bool check_dht(Reader& r, size_t segment_offset, HuffmanTables& tables) {
  long length = long(r.get16()) - 2;
  while (length > 0) {
    int q = r.get8();
    if ((q >> 4) > 1 || (q & 15) > 3) return false;
    long n = 0;
    for (int i = 0; i < 16; ++i) n += r.get8();
    if (n > 256) {
      throw ImageError("corrupt JPEG: Huffman table with " + std::to_string(n) + " codes (at most 256) in DHT at offset " +
                       std::to_string(segment_offset));
    }
    r.skip(n);
    tables.defined[q >> 4][q & 15] = true;
    length -= 17 + n;
  }
  return length == 0;
}

// Other markers stbi__process_marker accepts; false where stb stops with an error.
bool skip_marker(Reader& r, int m) {
  switch (m) {
    case 0xdd:  // DRI
      if (r.get16() != 4) return false;
      r.skip(2);
      return true;
    case 0xdb: {  // DQT
      long length = long(r.get16()) - 2;
      while (length > 0) {
        int q = r.get8();
        int p = q >> 4;
        if (p > 1 || (q & 15) > 3) return false;
        r.skip(p ? 128 : 64);
        length -= p ? 129 : 65;
      }
      return length == 0;
    }
    default:
      break;
  }
  if ((m >= 0xe0 && m <= 0xef) || m == 0xfe) {  // APPn, COM
    long length = r.get16();
    if (length < 2) return false;
    r.skip(length - 2);
    return true;
  }
  return false;  // unknown marker (also STBI__MARKER_none)
}

bool process_marker(Reader& r, int m, HuffmanTables& tables) {
  if (m == 0xc4) {
    size_t at = r.pos() >= 2 ? r.pos() - 2 : 0;
    return check_dht(r, at, tables);
  }
  return skip_marker(r, m);
}

bool is_sof(int m) { return m == 0xc0 || m == 0xc1 || m == 0xc2; }

// Skips entropy-coded data up to the first marker that is neither a stuffed 0xFF00 nor RSTn and
// returns it (0 at the end of the data). stb's decoder stops at the same marker or fails earlier.
int skip_entropy_data(Reader& r) {
  while (!r.at_eof()) {
    if (r.get8() != 0xff) continue;
    int c = r.get8();
    while (c == 0xff) c = r.get8();  // fill bytes; 0 at the end
    if (c == 0 || (c >= 0xd0 && c <= 0xd7)) continue;
    return c;
  }
  return 0;
}

// The walk of check_jpeg_before_decode. Oversized Huffman tables and scan floods throw at once; the
// first scan that uses an undefined Huffman table is only noted in `undefined_table` (a message),
// so that a flood of such scans is still reported as a flood.
void walk_jpeg(const std::string& jpeg, std::string& undefined_table) {
  Reader r(jpeg);
  int cached = kMarkerNone;
  HuffmanTables tables;
  // stbi__decode_jpeg_header
  if (get_marker(r, cached) != 0xd8) return;
  int m = get_marker(r, cached);
  while (!is_sof(m)) {
    if (!process_marker(r, m, tables)) return;
    m = get_marker(r, cached);
    while (m == kMarkerNone) {
      if (r.at_eof()) return;
      m = get_marker(r, cached);
    }
  }
  const bool progressive = m == 0xc2;
  // stbi__process_frame_header: Lf = 8 + 3 * components, else stb fails.
  long lf = r.get16();
  if (lf < 11) return;
  r.skip(lf - 2);
  // stbi__decode_jpeg_image
  int scans = 0;
  m = get_marker(r, cached);
  while (m != 0xd9) {
    if (m == 0xda) {  // SOS
      if (++scans > kMaxJpegScans) {
        throw ImageError("JPEG has more than " + std::to_string(kMaxJpegScans) + " scans");
      }
      const size_t at = r.pos() - 2;
      // stbi__process_scan_header: Ls = 6 + 2 * components, 1-4 components, table ids 0-3.
      const long ls = r.get16();
      const int components = r.get8();
      if (components < 1 || components > 4 || ls != 6 + 2 * components) return;
      int selectors[4];
      for (int i = 0; i < components; ++i) {
        r.get8();  // component id
        selectors[i] = r.get8();
      }
      const int spectral_start = r.get8();
      r.get8();  // spectral end
      const int successive_high = r.get8() >> 4;
      // The tables stb's block decoders read: baseline both; progressive DC first scans the DC
      // table, DC refinement none, AC scans (first and refinement) the AC table.
      const bool uses_dc = !progressive || (spectral_start == 0 && successive_high == 0);
      const bool uses_ac = !progressive || spectral_start > 0;
      for (int i = 0; i < components; ++i) {
        const int dc = selectors[i] >> 4, ac = selectors[i] & 15;
        if (dc > 3 || ac > 3) return;
        const bool dc_missing = uses_dc && !tables.defined[0][dc];
        if ((dc_missing || (uses_ac && !tables.defined[1][ac])) && undefined_table.empty()) {
          undefined_table = std::string("corrupt JPEG: the scan at offset ") + std::to_string(at) + " uses " +
                            (dc_missing ? "DC" : "AC") + " Huffman table " + std::to_string(dc_missing ? dc : ac) +
                            ", which no DHT defines";
        }
      }
      cached = skip_entropy_data(r);
      if (cached == 0) return;
    } else if (m == 0xdc) {  // DNL
      if (r.get16() != 4) return;
      r.skip(2);
    } else if (!process_marker(r, m, tables)) {
      return;
    }
    m = get_marker(r, cached);
  }
}

}  // namespace

void check_jpeg_before_decode(const std::string& jpeg) {
  std::string undefined_table;
  walk_jpeg(jpeg, undefined_table);
  if (!undefined_table.empty()) throw ImageError(undefined_table);
}

namespace {

uint64_t be32_at(const std::string& s, size_t pos) {
  return (uint64_t(uint8_t(s[pos])) << 24) | (uint64_t(uint8_t(s[pos + 1])) << 16) |
         (uint64_t(uint8_t(s[pos + 2])) << 8) | uint64_t(uint8_t(s[pos + 3]));
}

// Bytes of filtered scanlines (one filter byte per row) of a w x h image at `bits` per pixel.
uint64_t scanline_bytes(uint64_t w, uint64_t h, uint64_t bits) {
  if (w == 0 || h == 0) return 0;
  return h * (1 + (w * bits + 7) / 8);
}

// The inflated IDAT size IHDR implies, or 0 when stb will refuse the header anyway.
uint64_t expected_png_data(const std::string& ihdr) {
  const uint64_t w = be32_at(ihdr, 0), h = be32_at(ihdr, 4);
  const int depth = uint8_t(ihdr[8]), color = uint8_t(ihdr[9]), interlace = uint8_t(ihdr[12]);
  int channels;
  switch (color) {
    case 0: channels = 1; break;
    case 2: channels = 3; break;
    case 3: channels = 1; break;
    case 4: channels = 2; break;
    case 6: channels = 4; break;
    default: return 0;
  }
  if (depth != 1 && depth != 2 && depth != 4 && depth != 8 && depth != 16) return 0;
  if (interlace > 1) return 0;
  const uint64_t bits = uint64_t(depth) * uint64_t(channels);
  if (interlace == 0) return scanline_bytes(w, h, bits);
  // Adam7: seven passes over sub-grids.
  static const int x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
  static const int dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
  uint64_t total = 0;
  for (int p = 0; p < 7; ++p) {
    uint64_t pw = w > uint64_t(x0[p]) ? (w - x0[p] + dx[p] - 1) / dx[p] : 0;
    uint64_t ph = h > uint64_t(y0[p]) ? (h - y0[p] + dy[p] - 1) / dy[p] : 0;
    total += scanline_bytes(pw, ph, bits);
  }
  return total;
}

}  // namespace

void check_png_before_decode(const std::string& png, int64_t max_pixels) {
  size_t pos = 8;
  std::string ihdr;
  bool iphone = false;
  std::string idat;
  while (true) {
    if (png.size() - pos < 8) throw ImageError("truncated PNG: no IEND chunk");
    const uint64_t length = be32_at(png, pos);
    const std::string type = png.substr(pos + 4, 4);
    if (type == "IEND") break;
    const uint64_t left = png.size() - pos - 8;  // after length and type; data and CRC must fit
    if (length > 0x7fffffffu || length + 4 > left) {
      throw ImageError("truncated or corrupt PNG: chunk '" + type + "' at offset " + std::to_string(pos) + " claims " +
                       std::to_string(length) + " bytes, " + std::to_string(left) + " left");
    }
    if (ihdr.empty() && type != "IHDR" && type != "CgBI") throw ImageError("corrupt PNG: first chunk is not IHDR");
    if (type == "IHDR") {
      if (!ihdr.empty()) throw ImageError("corrupt PNG: more than one IHDR");
      if (length != 13) throw ImageError("corrupt PNG: IHDR has " + std::to_string(length) + " bytes");
      ihdr = png.substr(pos + 8, 13);
      // The size first: nothing below may allocate for an image over the limit.
      check_pixel_limit(int64_t(be32_at(ihdr, 0)), int64_t(be32_at(ihdr, 4)), max_pixels);
    } else if (type == "IDAT") {
      idat.append(png, pos + 8, size_t(length));
    } else if (type == "CgBI") {
      iphone = true;
    } else if (type != "PLTE" && (uint8_t(type[0]) & 0x20) == 0) {
      throw ImageError("unsupported critical PNG chunk '" + type + "' at offset " + std::to_string(pos));
    }
    pos += 12 + size_t(length);
  }
  if (ihdr.empty() || idat.empty()) return;  // stb reports these
  const uint64_t expected = expected_png_data(ihdr);
  if (expected == 0) return;
  const uint64_t bound = expected + expected / 4 + 65536;
  if (bound > uint64_t(INT32_MAX)) throw ImageError("PNG image data too large: " + std::to_string(expected) + " bytes");
  std::unique_ptr<char[]> out(new char[size_t(bound)]);
  const int n = iphone ? stbi_zlib_decode_noheader_buffer(out.get(), int(bound), idat.data(), int(idat.size()))
                       : stbi_zlib_decode_buffer(out.get(), int(bound), idat.data(), int(idat.size()));
  if (n < 0) {
    const char* reason = stbi_failure_reason();
    if (reason && std::strcmp(reason, "output buffer limit") == 0) {
      throw ImageError("corrupt PNG: image data inflates to more than " + std::to_string(bound) + " bytes (" +
                       std::to_string(expected) + " expected)");
    }
    throw ImageError(std::string("cannot decode PNG: ") + (reason ? reason : "bad image data"));
  }
}

}  // namespace sdw
