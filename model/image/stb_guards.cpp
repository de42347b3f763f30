// Pre-decode checks for stb_image 2.27 (see stb_guards.h): a JPEG marker walk that follows stb's
// (header markers, SOF, SOS + entropy-coded data, markers between scans) to refuse oversized
// Huffman tables, scan floods, scans that use undefined Huffman tables and images stb would leave
// partly undecoded (uninitialised memory), and a PNG chunk walk with a bounded trial inflate of
// the IDAT data (zlib's, stricter than stb's).
#include "model/image/stb_guards.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
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

// What the markers read so far set: the Huffman tables defined ([0] DC, [1] AC; ids 0-3), the
// quantization tables defined (ids 0-3) and the restart interval (DRI; 0 = none). stb keeps its
// tables in memory it does not initialise, so decoding with a table no DHT or DQT defined uses
// whatever was there.
struct MarkerState {
  bool defined[2][4] = {};
  bool quant_defined[4] = {};
  long restart_interval = 0;
};

// DHT segment as stbi__process_marker reads it. Returns false where stb stops with an error.
bool check_dht(Reader& r, size_t segment_offset, MarkerState& state) {
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
    state.defined[q >> 4][q & 15] = true;
    length -= 17 + n;
  }
  return length == 0;
}

// Other markers stbi__process_marker accepts; false where stb stops with an error.
bool skip_marker(Reader& r, int m, MarkerState& state) {
  switch (m) {
    case 0xdd:  // DRI
      if (r.get16() != 4) return false;
      state.restart_interval = r.get16();
      return true;
    case 0xdb: {  // DQT
      long length = long(r.get16()) - 2;
      while (length > 0) {
        int q = r.get8();
        int p = q >> 4;
        if (p > 1 || (q & 15) > 3) return false;
        r.skip(p ? 128 : 64);
        state.quant_defined[q & 15] = true;
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

bool process_marker(Reader& r, int m, MarkerState& state) {
  if (m == 0xc4) {
    size_t at = r.pos() >= 2 ? r.pos() - 2 : 0;
    return check_dht(r, at, state);
  }
  return skip_marker(r, m, state);
}

bool is_sof(int m) { return m == 0xc0 || m == 0xc1 || m == 0xc2; }

// Skips entropy-coded data up to the first marker that is neither a stuffed 0xFF00 nor RSTn and
// returns it (0 at the end of the data), counting the RSTn markers on the way. stb's decoder stops
// at the same marker or fails earlier.
int skip_entropy_data(Reader& r, uint64_t& restarts) {
  while (!r.at_eof()) {
    if (r.get8() != 0xff) continue;
    int c = r.get8();
    while (c == 0xff) c = r.get8();  // fill bytes; 0 at the end
    if (c >= 0xd0 && c <= 0xd7) ++restarts;
    if (c == 0 || (c >= 0xd0 && c <= 0xd7)) continue;
    return c;
  }
  return 0;
}

// The frame header (SOFn) as stbi__process_frame_header reads it: components and the number of
// units (blocks of one component, or MCUs) a scan decodes.
struct Frame {
  int components = 0;
  int id[4] = {};
  int quant_table[4] = {};
  uint64_t blocks[4] = {};  // 8x8 blocks of each component (a scan of that component alone)
  uint64_t mcus = 0;        // MCUs of a scan of several components
};

// Reads the frame header after the SOFn marker; false where stb stops with an error.
bool read_frame(Reader& r, Frame& f) {
  const long lf = r.get16();
  if (lf < 11 || r.get8() != 8) return false;
  const uint64_t height = uint64_t(r.get16()), width = uint64_t(r.get16());
  f.components = r.get8();
  if (height == 0 || width == 0 || (f.components != 1 && f.components != 3 && f.components != 4)) return false;
  if (lf != 8 + 3 * f.components) return false;
  int h[4], v[4], h_max = 1, v_max = 1;
  for (int i = 0; i < f.components; ++i) {
    f.id[i] = r.get8();
    const int q = r.get8();
    h[i] = q >> 4;
    v[i] = q & 15;
    f.quant_table[i] = r.get8();
    if (h[i] < 1 || h[i] > 4 || v[i] < 1 || v[i] > 4 || f.quant_table[i] > 3) return false;
    h_max = std::max(h_max, h[i]);
    v_max = std::max(v_max, v[i]);
  }
  for (int i = 0; i < f.components; ++i) {
    if (h_max % h[i] != 0 || v_max % v[i] != 0) return false;
    const uint64_t x = (width * h[i] + h_max - 1) / h_max, y = (height * v[i] + v_max - 1) / v_max;
    f.blocks[i] = ((x + 7) / 8) * ((y + 7) / 8);
  }
  f.mcus = ((width + 8 * h_max - 1) / (8 * h_max)) * ((height + 8 * v_max - 1) / (8 * v_max));
  return true;
}

// The walk of check_jpeg_before_decode. Oversized Huffman tables, scan floods and scans short of
// restart markers throw at once, a component no scan decodes at the end (EOI); the first scan that
// uses an undefined Huffman table is only noted in `undefined_table` (a message), so that a flood
// of such scans is still reported as a flood.
void walk_jpeg(const std::string& jpeg, std::string& undefined_table) {
  Reader r(jpeg);
  int cached = kMarkerNone;
  MarkerState state;
  // stbi__decode_jpeg_header
  if (get_marker(r, cached) != 0xd8) return;
  int m = get_marker(r, cached);
  while (!is_sof(m)) {
    if (!process_marker(r, m, state)) return;
    m = get_marker(r, cached);
    while (m == kMarkerNone) {
      if (r.at_eof()) return;
      m = get_marker(r, cached);
    }
  }
  const bool progressive = m == 0xc2;
  Frame frame;
  if (!read_frame(r, frame)) return;
  // stb allocates each component's pixels (baseline) or coefficients (progressive) without
  // initialising them: a component no scan decodes (progressive: no first DC scan, which zeroes
  // the coefficients) comes out as whatever the heap held.
  bool decoded[4] = {};
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
      int selectors[4], which[4];
      for (int i = 0; i < components; ++i) {
        const int id = r.get8();
        which[i] = int(std::find(frame.id, frame.id + frame.components, id) - frame.id);
        if (which[i] == frame.components) return;  // no such component: stb fails
        selectors[i] = r.get8();
      }
      const int spectral_start = r.get8();
      r.get8();  // spectral end
      const int successive_high = r.get8() >> 4;
      for (int i = 0; i < components; ++i) {
        if (!progressive || (spectral_start == 0 && successive_high == 0)) decoded[which[i]] = true;
        // Baseline scans dequantize as they decode (progressive images at the end, below).
        const int table = frame.quant_table[which[i]];
        if (!progressive && !state.quant_defined[table] && undefined_table.empty()) {
          undefined_table = "corrupt JPEG: the scan at offset " + std::to_string(at) + " decodes component " +
                            std::to_string(frame.id[which[i]]) + " with quantization table " + std::to_string(table) +
                            ", which no DQT defines";
        }
      }
      // The tables stb's block decoders read: baseline both; progressive DC first scans the DC
      // table, DC refinement none, AC scans (first and refinement) the AC table.
      const bool uses_dc = !progressive || (spectral_start == 0 && successive_high == 0);
      const bool uses_ac = !progressive || spectral_start > 0;
      for (int i = 0; i < components; ++i) {
        const int dc = selectors[i] >> 4, ac = selectors[i] & 15;
        if (dc > 3 || ac > 3) return;
        const bool dc_missing = uses_dc && !state.defined[0][dc];
        if ((dc_missing || (uses_ac && !state.defined[1][ac])) && undefined_table.empty()) {
          undefined_table = std::string("corrupt JPEG: the scan at offset ") + std::to_string(at) + " uses " +
                            (dc_missing ? "DC" : "AC") + " Huffman table " + std::to_string(dc_missing ? dc : ac) +
                            ", which no DHT defines";
        }
      }
      uint64_t restarts = 0;
      cached = skip_entropy_data(r, restarts);
      if (cached == 0) return;
      // With a restart interval, stb stops a scan (successfully) at the end of an interval not
      // followed by RSTn: the rest of the scan's units stay uninitialised. Each interval but the
      // last needs its RSTn in the scan's data (stb fails on a stray one).
      const uint64_t units = components == 1 ? frame.blocks[which[0]] : frame.mcus;
      const uint64_t interval = uint64_t(state.restart_interval);
      if (interval > 0 && restarts + 1 < (units + interval - 1) / interval) {
        throw ImageError("corrupt JPEG: the scan at offset " + std::to_string(at) + " has " + std::to_string(restarts) +
                         " restart markers for " + std::to_string((units + interval - 1) / interval) +
                         " restart intervals (the rest of the image would be uninitialised memory)");
      }
    } else if (m == 0xdc) {  // DNL
      if (r.get16() != 4) return;
      r.skip(2);
    } else if (!process_marker(r, m, state)) {
      return;
    }
    m = get_marker(r, cached);
  }
  for (int i = 0; i < frame.components; ++i) {
    if (!decoded[i]) {
      throw ImageError("corrupt JPEG: component " + std::to_string(frame.id[i]) + " has no " +
                       (progressive ? "first DC scan" : "scan") + " (its pixels would be uninitialised memory)");
    }
    if (progressive && !state.quant_defined[frame.quant_table[i]] && undefined_table.empty()) {
      undefined_table = "corrupt JPEG: component " + std::to_string(frame.id[i]) + " uses quantization table " +
                        std::to_string(frame.quant_table[i]) + ", which no DQT defines";
    }
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

// The trial inflate of the IDAT data, with zlib: stb's inflater (2.27) takes the invalid distance
// codes 30 and 31 for a distance of 0 and copies output bytes it never wrote (uninitialised memory
// in the pixels; fixed upstream later), where zlib refuses them. A stream zlib inflates completely
// stb inflates alike. As stb, the 2-byte zlib header is left to stb and the Adler-32 trailer is not
// checked (raw inflate after the header; CgBI files have no header). Throws ImageError for data
// that is not a complete deflate stream or inflates to more than `bound` bytes.
void check_idat_inflates(const std::string& idat, bool no_header, uint64_t expected, uint64_t bound) {
  const size_t skip = no_header ? 0 : 2;
  if (idat.size() < skip) return;  // stb reports it
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw ImageError("cannot decode PNG: zlib: out of memory");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(idat.data() + skip));
  zs.avail_in = uInt(idat.size() - skip);
  constexpr uInt kScratch = 64 * 1024;
  std::unique_ptr<Bytef[]> scratch(new Bytef[kScratch]);
  uint64_t total = 0;
  int ret = Z_OK;
  while (ret == Z_OK && total <= bound) {
    zs.next_out = scratch.get();
    zs.avail_out = kScratch;
    ret = inflate(&zs, Z_NO_FLUSH);
    total += kScratch - zs.avail_out;
  }
  const std::string reason = zs.msg ? zs.msg : ret == Z_BUF_ERROR ? "image data ends inside its zlib stream" : "bad image data";
  inflateEnd(&zs);
  if (total > bound) {
    throw ImageError("corrupt PNG: image data inflates to more than " + std::to_string(bound) + " bytes (" +
                     std::to_string(expected) + " expected)");
  }
  if (ret != Z_STREAM_END) throw ImageError("cannot decode PNG: " + reason);
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
  check_idat_inflates(idat, iphone, expected, bound);
}

}  // namespace sdw
