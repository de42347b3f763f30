// Image I/O: decoding of the seeded fixtures (values checked against an independent decode and the
// mask's known geometry), PNG/JPEG/BMP/GIF inputs made with stb's own writers or by hand, the PNG
// "parameters" chunk (checked with this file's own chunk walker and CRC), base64, conversions with
// PIL's arithmetic, resizing, the A1111 infotext, and malformed input (fuzz-style): every bad input
// must be an ImageError, never a crash.
#include <catch.hpp>

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "model/image/generation_parameters.h"
#include "model/image/image_io.h"
#include "test_util.h"

using sdw::Image;
using sdw::ImageError;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

// Inputs written by stb_image_write directly (not by the code under test).
std::string stb_png(const Image& im) {
  std::string out;
  REQUIRE(stbi_write_png_to_func(append_to_string, &out, im.width, im.height, im.channels, im.pixels.data(),
                                 im.width * im.channels));
  return out;
}
std::string stb_jpg(const Image& im, int quality) {
  std::string out;
  REQUIRE(stbi_write_jpg_to_func(append_to_string, &out, im.width, im.height, im.channels, im.pixels.data(), quality));
  return out;
}
std::string stb_bmp(const Image& im) {
  std::string out;
  REQUIRE(stbi_write_bmp_to_func(append_to_string, &out, im.width, im.height, im.channels, im.pixels.data()));
  return out;
}

Image make_image(int w, int h, int c) {
  Image im;
  im.width = w;
  im.height = h;
  im.channels = c;
  im.pixels.assign(size_t(w) * h * c, 0);
  return im;
}

Image random_image(int w, int h, int c, uint32_t seed) {
  Image im = make_image(w, h, c);
  std::mt19937 rng(seed);
  for (auto& p : im.pixels) p = uint8_t(rng() & 0xff);
  return im;
}

// Smooth content (JPEG-friendly).
Image gradient_image(int w, int h) {
  Image im = make_image(w, h, 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &im.pixels[(size_t(y) * w + x) * 3];
      p[0] = uint8_t(x * 255 / (w - 1));
      p[1] = uint8_t(y * 255 / (h - 1));
      p[2] = uint8_t(128 + 100 * std::sin(x * 0.1 + y * 0.07));
    }
  }
  return im;
}

const uint8_t* pixel(const Image& im, int x, int y) {
  return &im.pixels[(size_t(y) * im.width + x) * im.channels];
}

// Bitwise CRC-32 (independent of the table-driven one under test).
uint32_t crc32_bitwise(const std::string& bytes) {
  uint32_t c = 0xffffffffu;
  for (char ch : bytes) {
    c ^= uint8_t(ch);
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::string be32(uint32_t v) {
  return std::string{char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(uint32_t(data.size())) + type + data + be32(crc32_bitwise(type + data));
}

// A string literal with embedded NULs, without its terminator.
template <size_t N>
std::string bin(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

const std::string kPngSignature = bin("\x89PNG\r\n\x1a\n");

struct Chunk {
  std::string type;
  std::string data;
  bool crc_ok;
};

// This test's own chunk walker (structure assumed valid).
std::vector<Chunk> walk_chunks(const std::string& png) {
  std::vector<Chunk> out;
  REQUIRE(png.compare(0, 8, kPngSignature) == 0);
  size_t pos = 8;
  while (pos + 12 <= png.size()) {
    uint32_t len = (uint32_t(uint8_t(png[pos])) << 24) | (uint32_t(uint8_t(png[pos + 1])) << 16) |
                   (uint32_t(uint8_t(png[pos + 2])) << 8) | uint32_t(uint8_t(png[pos + 3]));
    REQUIRE(pos + 12 + len <= png.size());
    Chunk c{png.substr(pos + 4, 4), png.substr(pos + 8, len), false};
    c.crc_ok = png.substr(pos + 8 + len, 4) == be32(crc32_bitwise(c.type + c.data));
    out.push_back(c);
    pos += 12 + len;
  }
  REQUIRE(pos == png.size());
  return out;
}

// A PNG with only a header (IHDR claiming w x h, RGB) plus an empty IDAT and IEND.
std::string png_header_only(uint32_t w, uint32_t h) {
  std::string ihdr = be32(w) + be32(h) + bin("\x08\x02\x00\x00\x00");
  return kPngSignature + png_chunk("IHDR", ihdr) + png_chunk("IDAT", "") + png_chunk("IEND", "");
}

uint32_t adler32(const std::string& bytes) {
  uint32_t a = 1, b = 0;
  for (char ch : bytes) {
    a = (a + uint8_t(ch)) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

// A zlib stream of stored (uncompressed) deflate blocks.
std::string zlib_stored(const std::string& raw) {
  std::string out = bin("\x78\x01");
  size_t pos = 0;
  do {
    size_t n = std::min<size_t>(65535, raw.size() - pos);
    bool last = pos + n == raw.size();
    out += char(last ? 1 : 0);
    out += std::string{char(n & 0xff), char(n >> 8), char(~n & 0xff), char((~n >> 8) & 0xff)};
    out += raw.substr(pos, n);
    pos += n;
  } while (pos < raw.size());
  return out + be32(adler32(raw));
}

// A PNG from already filtered scanlines (filter byte + row), IDAT as stored deflate.
std::string make_png(uint32_t w, uint32_t h, int depth, int color, int interlace, const std::string& scanlines) {
  std::string ihdr = be32(w) + be32(h) + std::string{char(depth), char(color), 0, 0, char(interlace)};
  return kPngSignature + png_chunk("IHDR", ihdr) + png_chunk("IDAT", zlib_stored(scanlines)) + png_chunk("IEND", "");
}

std::string le16(int v) { return std::string{char(v & 0xff), char((v >> 8) & 0xff)}; }

// A GIF89a of w x h with a 4-colour global palette whose pixels are `indices` (LZW with a clear
// code before every literal, so the code size stays at 3 bits).
std::string make_gif(int w, int h, const std::vector<int>& indices, const uint8_t palette[4][3]) {
  std::string g = "GIF89a" + le16(w) + le16(h);
  g += char(0x81);  // global colour table, 2^(1+1) = 4 entries
  g += char(0);     // background index
  g += char(0);     // aspect
  for (int i = 0; i < 4; ++i) g.append(reinterpret_cast<const char*>(palette[i]), 3);
  g += char(0x2c) + le16(0) + le16(0) + le16(w) + le16(h) + char(0);
  g += char(2);  // LZW minimum code size: clear = 4, end = 5
  std::vector<int> codes;
  for (int idx : indices) {
    codes.push_back(4);
    codes.push_back(idx);
  }
  codes.push_back(5);
  std::string data;
  uint32_t acc = 0;
  int nbits = 0;
  for (int code : codes) {
    acc |= uint32_t(code) << nbits;
    nbits += 3;
    while (nbits >= 8) {
      data += char(acc & 0xff);
      acc >>= 8;
      nbits -= 8;
    }
  }
  if (nbits > 0) data += char(acc & 0xff);
  REQUIRE(data.size() < 256);
  g += char(data.size()) + data + char(0);
  g += char(0x3b);
  return g;
}

// Decodes and accepts either an ImageError or a consistent image; anything else fails the test
// (a different exception propagates, a crash kills the run).
bool decodes_or_image_error(const std::string& bytes) {
  try {
    Image im = sdw::decode_image(bytes);
    sdw::check_image(im);
    CHECK(int64_t(im.width) * im.height <= sdw::kMaxInputPixels);
    return true;
  } catch (const ImageError& e) {
    CHECK(std::string(e.what()).size() > 0);
    return false;
  }
}

// Pillow's rgb2l, written out here as the reference (libImaging/Convert.c, L24 >> 16).
int pil_luma(int r, int g, int b) { return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ImageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Fixtures

TEST_CASE("decodes the seeded init image (RGB 64x64)", "[image]") {
  Image im = sdw::load_image(sdw::test::fixture("seeded/init_64x64.png"));
  REQUIRE(im.width == 64);
  REQUIRE(im.height == 64);
  REQUIRE(im.channels == 3);
  // Reference values from an independent decode (Python zlib + PNG unfiltering).
  struct P {
    int x, y, r, g, b;
  };
  for (const P& p : {P{0, 0, 128, 242, 65}, P{63, 0, 127, 92, 83}, P{0, 63, 242, 163, 65}, P{63, 63, 242, 13, 83},
                     P{31, 17, 86, 232, 166}, P{10, 40, 232, 16, 127}, P{40, 10, 25, 233, 152}, P{32, 32, 41, 125, 182}}) {
    INFO("pixel " << p.x << "," << p.y);
    const uint8_t* px = pixel(im, p.x, p.y);
    CHECK(int(px[0]) == p.r);
    CHECK(int(px[1]) == p.g);
    CHECK(int(px[2]) == p.b);
  }
  uint64_t sum = 0, weighted = 0;
  for (size_t i = 0; i < im.pixels.size(); ++i) {
    sum += im.pixels[i];
    weighted = (weighted + (i + 1) * im.pixels[i]) % (uint64_t(1) << 32);
  }
  CHECK(sum == 1613806);
  CHECK(weighted == 317276751);

  Image from_bytes = sdw::decode_image(read_file(sdw::test::fixture("seeded/init_64x64.png")));
  CHECK(from_bytes.pixels == im.pixels);
}

TEST_CASE("decodes the seeded mask (8-bit L, white rectangle x 16..47, y 20..51)", "[image]") {
  Image im = sdw::load_image(sdw::test::fixture("seeded/mask_64x64.png"));
  REQUIRE(im.width == 64);
  REQUIRE(im.height == 64);
  REQUIRE(im.channels == 1);
  CHECK(int(*pixel(im, 16, 20)) == 255);
  CHECK(int(*pixel(im, 47, 51)) == 255);
  CHECK(int(*pixel(im, 32, 36)) == 255);
  CHECK(int(*pixel(im, 15, 20)) == 0);
  CHECK(int(*pixel(im, 48, 51)) == 0);
  CHECK(int(*pixel(im, 16, 19)) == 0);
  CHECK(int(*pixel(im, 47, 52)) == 0);
  CHECK(int(*pixel(im, 0, 0)) == 0);
  int wrong = 0;
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) {
      bool inside = x >= 16 && x <= 47 && y >= 20 && y <= 51;
      if (*pixel(im, x, y) != (inside ? 255 : 0)) ++wrong;
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("load_image reports a missing file", "[image]") {
  std::string msg = error_of([] { sdw::load_image("/nonexistent/definitely/missing.png"); });
  CHECK(contains(msg, "missing.png"));
}

// ---------------------------------------------------------------------------------------------
// Formats

TEST_CASE("PNG encode -> decode is lossless for gray, RGB and RGBA", "[image][png]") {
  for (int c : {1, 3, 4}) {
    for (auto [w, h] : {std::pair<int, int>{1, 1}, {37, 23}, {64, 64}}) {
      INFO("channels " << c << " size " << w << "x" << h);
      Image in = random_image(w, h, c, uint32_t(c * 1000 + w));
      std::string png = sdw::encode_png(in);
      CHECK(png.compare(0, 8, kPngSignature) == 0);
      Image out = sdw::decode_image(png);
      CHECK(out.width == w);
      CHECK(out.height == h);
      CHECK(out.channels == c);
      CHECK(out.pixels == in.pixels);
    }
  }
}

TEST_CASE("PNG encoder: valid chunk CRCs, compression, and a large image round trip", "[image][png]") {
  // A 512x512 smooth image with noise, like a generated picture.
  Image in = make_image(512, 512, 3);
  uint32_t state = 12345;
  for (int y = 0; y < 512; ++y)
    for (int x = 0; x < 512; ++x)
      for (int c = 0; c < 3; ++c) {
        state = state * 1664525u + 1013904223u;
        const int v = (x * (c + 1) + y * 2) / 5 % 256 + int(state >> 29);
        in.pixels[(size_t(y) * 512 + x) * 3 + c] = uint8_t(std::min(255, v));
      }
  std::string png = sdw::encode_png(in, "a prompt\nSteps: 20");
  // png_text_chunks walks every chunk and checks each CRC and the IEND.
  auto chunks = sdw::png_text_chunks(png);
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].second == "a prompt\nSteps: 20");
  Image out = sdw::decode_image(png);
  CHECK(out.pixels == in.pixels);
  CHECK(png.size() < in.pixels.size() / 2);  // the row filter + deflate do compress
  Image flat = make_image(256, 256, 4);
  CHECK(sdw::encode_png(flat).size() < 2000);
}

TEST_CASE("gray+alpha PNG decodes to RGBA with the gray replicated", "[image][png]") {
  Image ga = random_image(9, 7, 2, 5);
  Image out = sdw::decode_image(stb_png(ga));
  REQUIRE(out.channels == 4);
  for (size_t i = 0; i < size_t(9 * 7); ++i) {
    CHECK(out.pixels[4 * i] == ga.pixels[2 * i]);
    CHECK(out.pixels[4 * i + 1] == ga.pixels[2 * i]);
    CHECK(out.pixels[4 * i + 2] == ga.pixels[2 * i]);
    CHECK(out.pixels[4 * i + 3] == ga.pixels[2 * i + 1]);
  }
}

TEST_CASE("a PNG colour key (tRNS) gives RGBA with alpha 0 where the key matches", "[image][png]") {
  Image rgb = random_image(4, 2, 3, 21);
  const uint8_t* key = pixel(rgb, 1, 1);
  std::vector<Chunk> chunks = walk_chunks(stb_png(rgb));
  auto with_trns = [&](const std::string& trns) {
    std::string png = kPngSignature + png_chunk("IHDR", chunks[0].data) + png_chunk("tRNS", trns);
    for (size_t i = 1; i < chunks.size(); ++i) png += png_chunk(chunks[i].type, chunks[i].data);
    return png;
  };
  Image keyed = sdw::decode_image(with_trns(std::string{0, char(key[0]), 0, char(key[1]), 0, char(key[2])}));
  REQUIRE(keyed.channels == 4);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 4; ++x) {
      const uint8_t* in = pixel(rgb, x, y);
      const uint8_t* out = pixel(keyed, x, y);
      bool hidden = in[0] == key[0] && in[1] == key[1] && in[2] == key[2];
      CHECK((out[0] == in[0] && out[1] == in[1] && out[2] == in[2]));
      CHECK(int(out[3]) == (hidden ? 0 : 255));
    }
  }
  // A key no pixel has: RGBA, all opaque.
  Image unkeyed = sdw::decode_image(with_trns(std::string{0, char(key[0] ^ 1), 0, char(key[1]), 0, char(key[2])}));
  REQUIRE(unkeyed.channels == 4);
  CHECK(sdw::to_rgb(unkeyed).pixels == rgb.pixels);
  int transparent = 0;
  for (size_t i = 3; i < unkeyed.pixels.size(); i += 4) transparent += unkeyed.pixels[i] != 255;
  CHECK(transparent == 0);

  Image gray = random_image(5, 3, 1, 22);
  chunks = walk_chunks(stb_png(gray));
  Image gray_keyed = sdw::decode_image(with_trns(std::string{0, char(gray.pixels[7])}));
  REQUIRE(gray_keyed.channels == 4);
  for (size_t i = 0; i < gray.pixels.size(); ++i) {
    CHECK(gray_keyed.pixels[4 * i] == gray.pixels[i]);
    CHECK(int(gray_keyed.pixels[4 * i + 3]) == (gray.pixels[i] == gray.pixels[7] ? 0 : 255));
  }
}

TEST_CASE("hand-made PNGs: Adam7 interlacing, 16-bit samples, palette", "[image][png]") {
  SECTION("Adam7 RGB") {
    const int w = 5, h = 7;
    Image rgb = random_image(w, h, 3, 23);
    static const int x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
    static const int dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
    std::string raw;
    for (int p = 0; p < 7; ++p) {
      for (int y = y0[p]; y < h; y += dy[p]) {
        std::string row;
        for (int x = x0[p]; x < w; x += dx[p]) row.append(reinterpret_cast<const char*>(pixel(rgb, x, y)), 3);
        if (!row.empty()) raw += char(0) + row;
      }
    }
    Image out = sdw::decode_image(make_png(w, h, 8, 2, 1, raw));
    REQUIRE(out.channels == 3);
    CHECK(out.pixels == rgb.pixels);
  }
  SECTION("16-bit gray keeps the high byte") {
    std::string raw;
    std::vector<uint8_t> expected;
    for (int y = 0; y < 2; ++y) {
      raw += char(0);
      for (int x = 0; x < 3; ++x) {
        int v = 1000 + 20000 * y + 7919 * x;
        raw += std::string{char(v >> 8), char(v & 0xff)};
        expected.push_back(uint8_t(v >> 8));
      }
    }
    Image out = sdw::decode_image(make_png(3, 2, 16, 0, 0, raw));
    REQUIRE(out.channels == 1);
    CHECK(out.pixels == expected);
  }
  SECTION("palette with tRNS becomes RGBA") {
    std::string raw = bin("\x00\x00\x01\x02\x00\x02\x01\x00");  // 3x2, indices 0 1 2 / 2 1 0
    std::string ihdr = be32(3) + be32(2) + bin("\x08\x03\x00\x00\x00");
    std::string png = kPngSignature + png_chunk("IHDR", ihdr) + png_chunk("PLTE", bin("\xff\x00\x00\x00\xff\x00\x00\x00\xff")) +
                      png_chunk("tRNS", bin("\xff\x80")) + png_chunk("IDAT", zlib_stored(raw)) + png_chunk("IEND", "");
    Image out = sdw::decode_image(png);
    REQUIRE(out.channels == 4);
    const std::vector<uint8_t> expected = {255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 255,
                                           0, 0, 255, 255, 0, 255, 0, 128, 255, 0, 0, 255};
    CHECK(out.pixels == expected);
  }
}

TEST_CASE("PNG structure is checked before stb sees it", "[image][png][fuzz]") {
  Image small = random_image(8, 8, 1, 24);
  std::vector<Chunk> chunks = walk_chunks(stb_png(small));
  SECTION("image data that inflates far beyond what IHDR needs (a decompression bomb)") {
    // A 2048x2048 black image compresses to a few KB; under a 64x64 header it inflates to 64x
    // the data such an image has. stb alone would inflate all of it and decode the image.
    std::vector<Chunk> big = walk_chunks(stb_png(make_image(2048, 2048, 1)));
    std::string idat;
    for (const Chunk& c : big) {
      if (c.type == "IDAT") idat += c.data;
    }
    REQUIRE(idat.size() < 100000);
    std::string ihdr = be32(64) + be32(64) + bin("\x08\x00\x00\x00\x00");
    std::string bomb = kPngSignature + png_chunk("IHDR", ihdr) + png_chunk("IDAT", idat) + png_chunk("IEND", "");
    CHECK(contains(error_of([&] { sdw::decode_image(bomb); }), "inflates to more than"));
    // The same data under its real header is fine.
    CHECK(sdw::decode_image(kPngSignature + png_chunk("IHDR", big[0].data) + png_chunk("IDAT", idat) + png_chunk("IEND", "")).width == 2048);
  }
  SECTION("a chunk longer than the file") {
    std::string png = kPngSignature + png_chunk("IHDR", chunks[0].data) + be32(0x7fff0000u) + "IDAT" + std::string(64, 'x');
    CHECK(contains(error_of([&] { sdw::decode_image(png); }), "claims 2147418112 bytes"));
  }
  SECTION("unknown critical chunk, IHDR not first, IHDR twice") {
    std::string rest;
    for (size_t i = 1; i < chunks.size(); ++i) rest += png_chunk(chunks[i].type, chunks[i].data);
    std::string ihdr = png_chunk("IHDR", chunks[0].data);
    CHECK(contains(error_of([&] { sdw::decode_image(kPngSignature + ihdr + png_chunk("ABCD", "x") + rest); }), "critical"));
    CHECK(sdw::decode_image(kPngSignature + ihdr + png_chunk("abCD", "x") + rest).pixels == small.pixels);  // ancillary: skipped
    CHECK(contains(error_of([&] { sdw::decode_image(kPngSignature + png_chunk("tEXt", bin("a\0b")) + ihdr + rest); }), "IHDR"));
    CHECK(contains(error_of([&] { sdw::decode_image(kPngSignature + ihdr + ihdr + rest); }), "IHDR"));
  }
}

TEST_CASE("BMP written by stb decodes exactly", "[image]") {
  for (int c : {3, 4}) {
    Image in = random_image(13, 11, c, uint32_t(c));
    Image out = sdw::decode_image(stb_bmp(in));
    CHECK(out.width == 13);
    CHECK(out.height == 11);
    CHECK(out.channels == c);
    CHECK(out.pixels == in.pixels);
  }
}

TEST_CASE("hand-made GIF decodes (RGBA, palette colours)", "[image]") {
  const uint8_t palette[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
  std::string gif = make_gif(2, 2, {0, 1, 2, 3}, palette);
  Image im = sdw::decode_image(gif);
  REQUIRE(im.width == 2);
  REQUIRE(im.height == 2);
  REQUIRE(im.channels == 4);
  const std::vector<uint8_t> expected = {255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255};
  CHECK(im.pixels == expected);
}

TEST_CASE("JPEG round trip is close and quality affects size", "[image][jpeg]") {
  Image in = gradient_image(64, 48);
  std::string hi = sdw::encode_jpeg(in, 95);
  std::string lo = sdw::encode_jpeg(in, 10);
  CHECK(uint8_t(hi[0]) == 0xff);
  CHECK(uint8_t(hi[1]) == 0xd8);
  CHECK(lo.size() < hi.size());
  Image out = sdw::decode_image(hi);
  REQUIRE(out.width == 64);
  REQUIRE(out.height == 48);
  REQUIRE(out.channels == 3);
  double err = 0;
  for (size_t i = 0; i < in.pixels.size(); ++i) err += std::abs(int(in.pixels[i]) - int(out.pixels[i]));
  err /= double(in.pixels.size());
  INFO("mean abs error at quality 95: " << err);
  CHECK(err < 3.0);
  // Lower quality: still the same picture, but worse.
  Image out_lo = sdw::decode_image(lo);
  double err_lo = 0;
  for (size_t i = 0; i < in.pixels.size(); ++i) err_lo += std::abs(int(in.pixels[i]) - int(out_lo.pixels[i]));
  err_lo /= double(in.pixels.size());
  INFO("mean abs error at quality 10: " << err_lo);
  CHECK(err_lo < 20.0);
  CHECK(err_lo > err);

  // A JPEG written by stb itself decodes the same way.
  Image via_stb = sdw::decode_image(stb_jpg(in, 95));
  CHECK(via_stb.pixels == out.pixels);

  // Gray input is written as 3 equal channels; RGBA drops alpha.
  Image gray = sdw::to_gray(in);
  Image gray_back = sdw::decode_image(sdw::encode_jpeg(gray, 95));
  CHECK(gray_back.channels == 3);
  double gerr = 0;
  for (size_t i = 0; i < gray.pixels.size(); ++i) gerr += std::abs(int(gray.pixels[i]) - int(gray_back.pixels[3 * i + 1]));
  CHECK(gerr / double(gray.pixels.size()) < 3.0);

  CHECK_THROWS_AS(sdw::encode_jpeg(in, 0), ImageError);
  CHECK_THROWS_AS(sdw::encode_jpeg(in, 101), ImageError);
}

TEST_CASE("JPEG Huffman tables with more than 256 codes are refused before stb reads them", "[image][jpeg][fuzz]") {
  // stb_image 2.27 writes past its tables for these (nothings/stb#1289); the guard must stop them
  // wherever stb would read them: before SOF (stbi_info reads those) and between scans.
  auto dht = [](int table, const std::vector<int>& counts) {
    std::string body(1, char(table));
    int n = 0;
    for (int c : counts) {
      body += char(c);
      n += c;
    }
    body += std::string(size_t(n), '\x01');
    size_t length = body.size() + 2;
    return bin("\xff\xc4") + std::string{char(length >> 8), char(length & 0xff)} + body;
  };
  const std::string bad = dht(0x00, std::vector<int>(16, 255));  // 4080 codes
  CHECK(contains(error_of([&] { sdw::decode_image(bin("\xff\xd8") + bad + bin("\xff\xd9")); }), "Huffman table with 4080 codes"));

  std::string valid = sdw::encode_jpeg(gradient_image(16, 16), 80);
  REQUIRE(valid.substr(valid.size() - 2) == bin("\xff\xd9"));
  std::string late = valid.substr(0, valid.size() - 2) + bad + bin("\xff\xd9");
  CHECK(contains(error_of([&] { sdw::decode_image(late); }), "Huffman table with 4080 codes"));
  std::vector<int> just_over(16, 0);
  just_over[14] = 2;
  just_over[15] = 255;  // 257 codes
  std::string early = bin("\xff\xd8") + dht(0x13, just_over) + valid.substr(2);
  CHECK(contains(error_of([&] { sdw::decode_image(early); }), "257 codes"));

  // Exactly 256 codes (an unused AC table 3) is legal: the image decodes as before.
  std::vector<int> full(16, 0);
  full[14] = 1;
  full[15] = 255;
  std::string ok = bin("\xff\xd8") + dht(0x13, full) + valid.substr(2);
  CHECK(sdw::decode_image(ok).pixels == sdw::decode_image(valid).pixels);
}

TEST_CASE("JPEGs with more than 100 scans are refused", "[image][jpeg][fuzz]") {
  // SOI, progressive SOF2 (8x8, one component), then N minimal scans: every scan costs stb a pass
  // over the whole image, so a flood of them is a cheap CPU attack.
  auto jpeg = [](int scans) {
    std::string j = bin("\xff\xd8\xff\xc2\x00\x0b\x08\x00\x08\x00\x08\x01\x01\x11\x00");
    for (int i = 0; i < scans; ++i) j += bin("\xff\xda\x00\x08\x01\x01\x00\x00\x00\x00") + char(0);
    return j + bin("\xff\xd9");
  };
  CHECK(contains(error_of([&] { sdw::decode_image(jpeg(101)); }), "more than 100 scans"));
  std::string msg = error_of([&] { sdw::decode_image(jpeg(100)); });  // stb's own error (no tables)
  CHECK(!msg.empty());
  CHECK(!contains(msg, "scans"));
}

// ---------------------------------------------------------------------------------------------
// PNG parameters chunk

TEST_CASE("Latin-1 parameters become a tEXt chunk right after IHDR", "[image][png]") {
  Image in = random_image(16, 8, 3, 7);
  const std::string text = "caf\xc3\xa9 astronaut, \xc2\xb5m\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a";
  std::string png = sdw::encode_png(in, text);
  std::vector<Chunk> chunks = walk_chunks(png);
  REQUIRE(chunks.size() >= 4);
  CHECK(chunks[0].type == "IHDR");
  CHECK(chunks[1].type == "tEXt");
  CHECK(chunks.back().type == "IEND");
  for (const Chunk& c : chunks) CHECK(c.crc_ok);
  // Latin-1 bytes on disk: é = 0xE9, µ = 0xB5.
  CHECK(chunks[1].data == std::string("parameters") + '\0' +
                              "caf\xe9 astronaut, \xb5m\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a");

  auto texts = sdw::png_text_chunks(png);
  REQUIRE(texts.size() == 1);
  CHECK(texts[0].first == "parameters");
  CHECK(texts[0].second == text);
  CHECK(sdw::decode_image(png).pixels == in.pixels);
}

TEST_CASE("non-Latin-1 parameters become an iTXt chunk (UTF-8)", "[image][png]") {
  Image in = random_image(5, 5, 4, 8);
  const std::string text = "\xe7\x8c\xab astronaut \xf0\x9f\x9a\x80\nSteps: 20";  // 猫 ... 🚀
  std::string png = sdw::encode_png(in, text);
  std::vector<Chunk> chunks = walk_chunks(png);
  REQUIRE(chunks.size() >= 4);
  CHECK(chunks[0].type == "IHDR");
  CHECK(chunks[1].type == "iTXt");
  for (const Chunk& c : chunks) CHECK(c.crc_ok);
  // keyword NUL, compression flag 0, method 0, empty language NUL, empty translated keyword NUL.
  CHECK(chunks[1].data == bin("parameters\0\0\0\0\0") + text);

  auto texts = sdw::png_text_chunks(png);
  REQUIRE(texts.size() == 1);
  CHECK(texts[0].first == "parameters");
  CHECK(texts[0].second == text);
  CHECK(sdw::decode_image(png).pixels == in.pixels);
}

TEST_CASE("no parameters: no text chunk; bad parameter text is rejected", "[image][png]") {
  Image in = random_image(4, 4, 1, 9);
  std::string png = sdw::encode_png(in);
  for (const Chunk& c : walk_chunks(png)) {
    CHECK(c.type != "tEXt");
    CHECK(c.type != "iTXt");
  }
  CHECK(sdw::png_text_chunks(png).empty());
  CHECK_THROWS_AS(sdw::encode_png(in, "bad \xff utf-8"), ImageError);
  CHECK_THROWS_AS(sdw::encode_png(in, "overlong \xc0\xaf"), ImageError);
  CHECK_THROWS_AS(sdw::encode_png(in, bin("nul\0inside")), ImageError);
}

TEST_CASE("png_text_chunks reads hand-made chunks and validates the structure", "[image][png][fuzz]") {
  Image in = random_image(8, 8, 3, 10);
  std::string base = stb_png(in);
  std::vector<Chunk> chunks = walk_chunks(base);
  REQUIRE(chunks.back().type == "IEND");
  // Rebuild with text chunks of our own before IEND.
  std::string png = kPngSignature;
  for (size_t i = 0; i + 1 < chunks.size(); ++i) png += png_chunk(chunks[i].type, chunks[i].data);
  png += png_chunk("tEXt", bin("Comment\0hello \xe9t\xe9"));
  png += png_chunk("iTXt", bin("parameters\0\0\0en\0Parameter\0") + "\xe2\x9c\x93 ok");
  png += png_chunk("iTXt", bin("zipped\0\x01\0\0\0") + "x\x9c garbage");  // compressed: skipped
  png += png_chunk("IEND", "");
  auto texts = sdw::png_text_chunks(png);
  REQUIRE(texts.size() == 2);
  CHECK(texts[0].first == "Comment");
  CHECK(texts[0].second == "hello \xc3\xa9t\xc3\xa9");
  CHECK(texts[1].first == "parameters");
  CHECK(texts[1].second == "\xe2\x9c\x93 ok");
  CHECK(sdw::decode_image(png).pixels == in.pixels);

  SECTION("bad CRC") {
    std::string bad = png;
    size_t at = bad.find("hello");
    bad[at] = 'j';
    CHECK(contains(error_of([&] { sdw::png_text_chunks(bad); }), "CRC"));
  }
  SECTION("bad signature") { CHECK_THROWS_AS(sdw::png_text_chunks("GIF89a" + png.substr(6)), ImageError); }
  SECTION("length beyond the data") {
    std::string bad = png;
    size_t at = bad.find("tEXt") - 4;
    bad.replace(at, 4, be32(0x7ffffff0u));
    CHECK_THROWS_AS(sdw::png_text_chunks(bad), ImageError);
    bad.replace(at, 4, be32(0xfffffff0u));
    CHECK_THROWS_AS(sdw::png_text_chunks(bad), ImageError);
  }
  SECTION("tEXt without a keyword separator") {
    std::string bad = kPngSignature + png_chunk("IHDR", chunks[0].data) + png_chunk("tEXt", "nokeyword") + png_chunk("IEND", "");
    CHECK_THROWS_AS(sdw::png_text_chunks(bad), ImageError);
  }
  SECTION("every truncation is an error") {
    for (size_t n = 0; n < png.size(); ++n) {
      INFO("length " << n);
      CHECK_THROWS_AS(sdw::png_text_chunks(png.substr(0, n)), ImageError);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// base64

TEST_CASE("base64 RFC 4648 vectors and round trip", "[image][base64]") {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(sdw::encode_base64(plain) == encoded);
    CHECK(sdw::decode_base64(encoded) == plain);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(char(i));
  for (size_t n = 0; n <= all.size(); n += 7) {
    std::string s = all.substr(0, n);
    CHECK(sdw::decode_base64(sdw::encode_base64(s)) == s);
  }
}

TEST_CASE("base64 leniency: padding optional, whitespace, URL-safe alphabet, data URL", "[image][base64]") {
  CHECK(sdw::decode_base64("Zg") == "f");
  CHECK(sdw::decode_base64("Zm8") == "fo");
  CHECK(sdw::decode_base64("Zm9vYg") == "foob");
  CHECK(sdw::decode_base64(" Zm9v\nYmFy\r\n\tZm9v ") == "foobarfoo");
  CHECK(sdw::decode_base64("Zm9v\nYg=\n=") == "foob");
  // 0xfb 0xff: "+/8=" in the standard alphabet, "-_8" URL-safe.
  CHECK(sdw::decode_base64("+/8=") == "\xfb\xff");
  CHECK(sdw::decode_base64("-_8") == "\xfb\xff");
  CHECK(sdw::encode_base64("\xfb\xff") == "+/8=");
  CHECK(sdw::decode_base64("data:image/png;base64,Zm9v") == "foo");
  CHECK(sdw::decode_base64("data:image/jpeg;base64,Zm9vYmFy") == "foobar");
  CHECK(sdw::decode_base64("  DATA:application/octet-stream;BASE64,Zm9v\n") == "foo");
  CHECK(sdw::decode_base64("data:;base64,Zm9v") == "foo");
}

TEST_CASE("base64 errors name the position", "[image][base64]") {
  CHECK(contains(error_of([] { sdw::decode_base64("Zm9v*mFy"); }), "position 4"));
  CHECK(contains(error_of([] { sdw::decode_base64("Zm9v YmF\x01"); }), "position 8"));
  CHECK(contains(error_of([] { sdw::decode_base64("data:image/png;base64,Zm9v!"); }), "position 26"));
  CHECK(contains(error_of([] { sdw::decode_base64("Zg==Zg=="); }), "position 4"));
  CHECK(contains(error_of([] { sdw::decode_base64("=Zg"); }), "position 0"));
  CHECK_THROWS_AS(sdw::decode_base64("Zm9vY"), ImageError);                    // one dangling digit
  CHECK_THROWS_AS(sdw::decode_base64("Zg==="), ImageError);                    // too much padding
  CHECK_THROWS_AS(sdw::decode_base64("data:image/png,Zm9v"), ImageError);      // not base64
  CHECK_THROWS_AS(sdw::decode_base64("data:image/png;base64"), ImageError);    // no comma
}

TEST_CASE("decode_image_base64 accepts a wrapped data URL", "[image][base64]") {
  Image in = random_image(10, 6, 3, 11);
  std::string b64 = sdw::encode_base64(sdw::encode_png(in));
  std::string wrapped;
  for (size_t i = 0; i < b64.size(); i += 76) wrapped += b64.substr(i, 76) + "\r\n";
  Image out = sdw::decode_image_base64("data:image/png;base64," + wrapped);
  CHECK(out.pixels == in.pixels);
  CHECK_THROWS_AS(sdw::decode_image_base64(""), ImageError);
  CHECK_THROWS_AS(sdw::decode_image_base64("data:image/png;base64,"), ImageError);
}

// ---------------------------------------------------------------------------------------------
// Limits and malformed input

TEST_CASE("oversized images are rejected from the header, before decoding", "[image][fuzz]") {
  const std::string limit = std::to_string(sdw::kMaxInputPixels);
  std::string msg = error_of([] { sdw::decode_image(png_header_only(100000, 100000)); });
  CHECK(contains(msg, "100000x100000"));
  CHECK(contains(msg, "limit of " + limit));
  // Under stb's own 2^30-byte check, so only our limit stops it.
  msg = error_of([] { sdw::decode_image(png_header_only(5000, 5000)); });
  CHECK(contains(msg, "limit of " + limit));

  // JPEG SOI + SOF0 claiming 20000 x 20000, 3 components.
  std::string jpeg("\xff\xd8\xff\xc0\x00\x11\x08", 7);
  jpeg += std::string{char(20000 >> 8), char(20000 & 0xff), char(20000 >> 8), char(20000 & 0xff)};
  jpeg += bin("\x03\x01\x11\x00\x02\x11\x00\x03\x11\x00");
  msg = error_of([&] { sdw::decode_image(jpeg); });
  CHECK(contains(msg, "20000x20000"));
  CHECK(contains(msg, "limit of " + limit));

  // GIF logical screen 65535 x 65535.
  const uint8_t palette[4][3] = {{0, 0, 0}, {1, 1, 1}, {2, 2, 2}, {3, 3, 3}};
  std::string gif = make_gif(2, 2, {0, 1, 2, 3}, palette);
  gif.replace(6, 4, le16(65535) + le16(65535));
  msg = error_of([&] { sdw::decode_image(gif); });
  CHECK(contains(msg, "limit of " + limit));

  // The limit is a parameter: the 64x64 fixture needs 4096.
  std::string init = read_file(sdw::test::fixture("seeded/init_64x64.png"));
  CHECK(contains(error_of([&] { sdw::decode_image(init, 4095); }), "limit of 4095"));
  CHECK(sdw::decode_image(init, 4096).width == 64);
  CHECK_THROWS_AS(sdw::load_image(sdw::test::fixture("seeded/init_64x64.png"), 100), ImageError);
}

TEST_CASE("empty, unknown and corrupt data are ImageErrors with a reason", "[image][fuzz]") {
  CHECK(contains(error_of([] { sdw::decode_image(""); }), "empty"));
  CHECK(contains(error_of([] { sdw::decode_image("hello, world"); }), "unsupported"));
  // A TGA-looking header (stb would try TGA on anything) is refused.
  CHECK(contains(error_of([] { sdw::decode_image(bin("\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x02\x00\x18\x00") + std::string(12, 'x')); }), "unsupported"));
  // Valid header, garbage image data: stb's reason follows the prefix.
  std::string png = stb_png(random_image(8, 8, 3, 12));
  std::vector<Chunk> chunks = walk_chunks(png);
  std::string bad = kPngSignature + png_chunk("IHDR", chunks[0].data) + png_chunk("IDAT", "not zlib at all") + png_chunk("IEND", "");
  std::string msg = error_of([&] { sdw::decode_image(bad); });
  CHECK(contains(msg, "cannot decode PNG: "));
  CHECK(msg.size() > std::string("cannot decode PNG: ").size());
  CHECK_THROWS_AS(sdw::decode_image(kPngSignature), ImageError);
  CHECK_THROWS_AS(sdw::decode_image("\xff\xd8\xff"), ImageError);
  CHECK_THROWS_AS(sdw::decode_image("GIF89a"), ImageError);
  CHECK_THROWS_AS(sdw::decode_image("BM"), ImageError);
}

TEST_CASE("every truncation of PNG, JPEG, GIF and BMP is an error or an image", "[image][fuzz]") {
  Image in = random_image(24, 20, 3, 13);
  const uint8_t palette[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
  const std::pair<const char*, std::string> inputs[] = {
      {"png", sdw::encode_png(in, "a prompt\nSteps: 20")},
      {"fixture png", read_file(sdw::test::fixture("seeded/init_64x64.png"))},
      {"jpeg", sdw::encode_jpeg(gradient_image(24, 20), 80)},
      {"gif", make_gif(2, 2, {0, 1, 2, 3}, palette)},
      {"bmp", stb_bmp(in)},
  };
  for (const auto& [name, bytes] : inputs) {
    int decoded = 0;
    for (size_t n = 0; n <= bytes.size(); ++n) {
      INFO(name << " truncated to " << n << " of " << bytes.size() << " bytes");
      if (decodes_or_image_error(bytes.substr(0, n))) ++decoded;
    }
    INFO(name);
    CHECK(decoded >= 1);  // at least the complete file
  }
}

TEST_CASE("random byte flips never crash", "[image][fuzz]") {
  Image in = random_image(24, 20, 4, 14);
  const uint8_t palette[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
  const std::pair<std::string, int> inputs[] = {
      {sdw::encode_png(in, "parameters text, Steps: 20"), 3000},
      {sdw::encode_png(sdw::to_gray(in)), 1000},
      {read_file(sdw::test::fixture("seeded/mask_64x64.png")), 1000},
      {sdw::encode_jpeg(gradient_image(32, 24), 90), 3000},
      {make_gif(2, 2, {0, 1, 2, 3}, palette), 1000},
      {stb_bmp(in), 1000},
  };
  std::mt19937 rng(12345);
  int images = 0, errors = 0;
  for (const auto& [original, iterations] : inputs) {
    for (int it = 0; it < iterations; ++it) {
      std::string bytes = original;
      int flips = 1 + int(rng() % 8);
      for (int f = 0; f < flips; ++f) {
        size_t at = rng() % bytes.size();
        bytes[at] = char(uint8_t(bytes[at]) ^ uint8_t(1 + rng() % 255));
      }
      if (decodes_or_image_error(bytes)) ++images; else ++errors;
      if (bytes.compare(0, 8, kPngSignature) == 0) {
        try {
          sdw::png_text_chunks(bytes);
        } catch (const ImageError&) {
        }
      }
    }
  }
  // Random tails after valid signatures.
  const std::string heads[] = {kPngSignature, "\xff\xd8\xff", "GIF89a", "GIF87a", "BM"};
  for (int it = 0; it < 2000; ++it) {
    std::string bytes = heads[it % 5];
    size_t n = rng() % 200;
    for (size_t i = 0; i < n; ++i) bytes.push_back(char(rng() & 0xff));
    if (decodes_or_image_error(bytes)) ++images; else ++errors;
  }
  INFO("decoded " << images << ", rejected " << errors);
  CHECK(errors > 0);
  CHECK(images > 0);
}

TEST_CASE("random text never crashes the base64 decoder", "[image][base64][fuzz]") {
  std::mt19937 rng(99);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= \n\r\t:;,.data*";
  for (int it = 0; it < 5000; ++it) {
    std::string s;
    size_t n = rng() % 64;
    for (size_t i = 0; i < n; ++i) s.push_back(it % 2 ? char(rng() & 0xff) : alphabet[rng() % alphabet.size()]);
    try {
      sdw::decode_base64(s);
    } catch (const ImageError&) {
    }
  }
  SUCCEED();
}

// ---------------------------------------------------------------------------------------------
// Conversions and resizing

TEST_CASE("to_gray matches PIL convert(\"L\")", "[image][convert]") {
  // Values by Pillow's rgb2l: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
  struct C {
    int r, g, b, l;
  };
  const C known[] = {{255, 0, 0, 76},     {0, 255, 0, 150},      {0, 0, 255, 29},  {255, 255, 255, 255},
                     {0, 0, 0, 0},        {128, 128, 128, 128},  {1, 1, 1, 1},     {10, 200, 30, 124},
                     {200, 100, 50, 124}, {1, 2, 3, 2},          {254, 1, 128, 91}};
  Image rgb = make_image(int(std::size(known)), 1, 3);
  Image rgba = make_image(int(std::size(known)), 1, 4);
  for (size_t i = 0; i < std::size(known); ++i) {
    rgb.pixels[3 * i] = rgba.pixels[4 * i] = uint8_t(known[i].r);
    rgb.pixels[3 * i + 1] = rgba.pixels[4 * i + 1] = uint8_t(known[i].g);
    rgb.pixels[3 * i + 2] = rgba.pixels[4 * i + 2] = uint8_t(known[i].b);
    rgba.pixels[4 * i + 3] = uint8_t(i * 20);  // alpha is ignored
  }
  Image g1 = sdw::to_gray(rgb);
  Image g2 = sdw::to_gray(rgba);
  REQUIRE(g1.channels == 1);
  REQUIRE(g2.channels == 1);
  for (size_t i = 0; i < std::size(known); ++i) {
    INFO("colour " << known[i].r << "," << known[i].g << "," << known[i].b);
    CHECK(int(g1.pixels[i]) == known[i].l);
    CHECK(int(g2.pixels[i]) == known[i].l);
    CHECK(pil_luma(known[i].r, known[i].g, known[i].b) == known[i].l);
  }
  // A broad sweep against the reference formula.
  Image sweep = make_image(52 * 52, 52, 3);
  for (int r = 0; r < 52; ++r) {
    for (int g = 0; g < 52; ++g) {
      for (int b = 0; b < 52; ++b) {
        uint8_t* p = &sweep.pixels[((size_t(r) * 52 + g) * 52 + b) * 3];
        p[0] = uint8_t(r * 5);
        p[1] = uint8_t(g * 5);
        p[2] = uint8_t(b * 5);
      }
    }
  }
  Image sg = sdw::to_gray(sweep);
  int mismatches = 0;
  for (size_t i = 0; i < sg.pixels.size(); ++i) {
    const uint8_t* p = &sweep.pixels[3 * i];
    if (sg.pixels[i] != pil_luma(p[0], p[1], p[2])) ++mismatches;
  }
  CHECK(mismatches == 0);
  Image gray = random_image(3, 3, 1, 15);
  CHECK(sdw::to_gray(gray).pixels == gray.pixels);
}

TEST_CASE("to_rgb replicates gray and drops alpha without compositing", "[image][convert]") {
  Image gray = random_image(4, 3, 1, 16);
  Image rgb = sdw::to_rgb(gray);
  REQUIRE(rgb.channels == 3);
  for (size_t i = 0; i < gray.pixels.size(); ++i) {
    CHECK(rgb.pixels[3 * i] == gray.pixels[i]);
    CHECK(rgb.pixels[3 * i + 1] == gray.pixels[i]);
    CHECK(rgb.pixels[3 * i + 2] == gray.pixels[i]);
  }
  Image rgba = make_image(2, 1, 4);
  rgba.pixels = {10, 20, 30, 0, 200, 150, 100, 128};
  Image dropped = sdw::to_rgb(rgba);
  CHECK(dropped.pixels == std::vector<uint8_t>{10, 20, 30, 200, 150, 100});
  Image same = random_image(3, 2, 3, 17);
  CHECK(sdw::to_rgb(same).pixels == same.pixels);
}

TEST_CASE("resize: dimensions, constant colour, edges, premultiplied alpha", "[image][resize]") {
  for (int c : {1, 3, 4}) {
    Image in = random_image(64, 64, c, uint32_t(18 + c));
    for (auto [w, h] : {std::pair<int, int>{32, 32}, {128, 96}, {100, 30}, {1, 1}, {7, 200}}) {
      Image out = sdw::resize(in, w, h);
      CHECK(out.width == w);
      CHECK(out.height == h);
      CHECK(out.channels == c);
      CHECK(out.pixels.size() == size_t(w) * h * c);
    }
    CHECK(sdw::resize(in, 64, 64).pixels == in.pixels);
  }
  // A constant colour stays exactly constant up and down.
  Image flat = make_image(30, 20, 4);
  for (size_t i = 0; i < flat.pixels.size(); i += 4) {
    flat.pixels[i] = 200;
    flat.pixels[i + 1] = 17;
    flat.pixels[i + 2] = 99;
    flat.pixels[i + 3] = 255;
  }
  for (auto [w, h] : {std::pair<int, int>{15, 10}, {61, 47}}) {
    Image out = sdw::resize(flat, w, h);
    int off = 0;
    for (size_t i = 0; i < out.pixels.size(); i += 4) {
      if (out.pixels[i] != 200 || out.pixels[i + 1] != 17 || out.pixels[i + 2] != 99 || out.pixels[i + 3] != 255) ++off;
    }
    CHECK(off == 0);
  }
  // Left half black, right half white, halved: the far columns keep their value.
  Image halves = make_image(64, 16, 1);
  for (int y = 0; y < 16; ++y) {
    for (int x = 32; x < 64; ++x) halves.pixels[size_t(y) * 64 + x] = 255;
  }
  Image half = sdw::resize(halves, 32, 8);
  for (int y = 0; y < 8; ++y) {
    CHECK(int(half.pixels[size_t(y) * 32]) == 0);
    CHECK(int(half.pixels[size_t(y) * 32 + 31]) == 255);
  }
  // Opaque red beside transparent green: filtering is premultiplied, so no green bleeds in.
  Image rg = make_image(32, 4, 4);
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 32; ++x) {
      uint8_t* p = &rg.pixels[(size_t(y) * 32 + x) * 4];
      if (x < 16) {
        p[0] = 255, p[3] = 255;
      } else {
        p[1] = 255, p[3] = 0;
      }
    }
  }
  Image small = sdw::resize(rg, 12, 3);
  for (size_t i = 0; i < small.pixels.size(); i += 4) {
    if (small.pixels[i + 3] >= 8) {
      INFO("pixel " << i / 4 << " alpha " << int(small.pixels[i + 3]));
      CHECK(int(small.pixels[i + 1]) <= 2);
      CHECK(int(small.pixels[i]) >= 250);
    }
  }
  CHECK_THROWS_AS(sdw::resize(flat, 0, 10), ImageError);
  CHECK_THROWS_AS(sdw::resize(flat, 10, -1), ImageError);
  CHECK_THROWS_AS(sdw::resize(flat, 70000, 10), ImageError);
}

TEST_CASE("inconsistent Image values are rejected", "[image]") {
  Image bad = make_image(4, 4, 3);
  bad.pixels.pop_back();
  CHECK_THROWS_AS(sdw::encode_png(bad), ImageError);
  CHECK_THROWS_AS(sdw::encode_jpeg(bad), ImageError);
  CHECK_THROWS_AS(sdw::to_rgb(bad), ImageError);
  CHECK_THROWS_AS(sdw::to_gray(bad), ImageError);
  CHECK_THROWS_AS(sdw::resize(bad, 2, 2), ImageError);
  Image two = make_image(2, 2, 2);
  CHECK_THROWS_AS(sdw::encode_png(two), ImageError);
  Image empty;
  CHECK_THROWS_AS(sdw::check_image(empty), ImageError);
}

// ---------------------------------------------------------------------------------------------
// A1111 infotext

TEST_CASE("a1111_parameters formats A1111's infotext", "[image][parameters]") {
  sdw::GenerationParameters p;
  p.prompt = "a photo of an astronaut riding a horse on mars";
  p.negative_prompt = "blurry, lowres";
  p.steps = 20;
  p.sampler = "Euler a";
  p.cfg_scale = 7.5;
  p.seed = 42;
  p.width = 512;
  p.height = 512;
  p.model = "v1-5";
  p.clip_skip = 2;
  p.denoising_strength = 0.75;
  CHECK(sdw::a1111_parameters(p) ==
        "a photo of an astronaut riding a horse on mars\n"
        "Negative prompt: blurry, lowres\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: v1-5, "
        "Denoising strength: 0.75, Clip skip: 2");

  p.negative_prompt.clear();
  p.clip_skip.reset();
  p.denoising_strength.reset();
  p.cfg_scale = 7;
  p.seed = 4294967295ll;
  p.width = 640;
  p.height = 384;
  CHECK(sdw::a1111_parameters(p) ==
        "a photo of an astronaut riding a horse on mars\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 4294967295, Size: 640x384, Model: v1-5");

  p.clip_skip = 1;  // A1111 prints clip skip only when > 1
  p.model = "my, model: v2";
  p.prompt = "  cat  ";
  CHECK(sdw::a1111_parameters(p) ==
        "cat  \nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 4294967295, Size: 640x384, Model: \"my, model: v2\"");
  p.model.clear();
  p.prompt.clear();
  CHECK(sdw::a1111_parameters(p) == "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 4294967295, Size: 640x384");

  CHECK(sdw::format_number(7.0) == "7");
  CHECK(sdw::format_number(7.5) == "7.5");
  CHECK(sdw::format_number(0.1) == "0.1");
  CHECK(sdw::format_number(0.75) == "0.75");
  CHECK(sdw::format_number(0.1 + 0.2) == "0.30000000000000004");
  CHECK(sdw::format_number(-3.25) == "-3.25");
  CHECK(sdw::format_number(0.0) == "0");
}

TEST_CASE("infotext survives the PNG parameters chunk", "[image][parameters][png]") {
  sdw::GenerationParameters p;
  p.prompt = "\xe5\xaf\xbf\xe5\x8f\xb8, sushi";  // 寿司: goes to iTXt
  p.negative_prompt = "blurry";
  p.steps = 4;
  p.sampler = "DPM++ 2M Karras";
  p.cfg_scale = 1;
  p.seed = 7;
  p.width = 8;
  p.height = 8;
  std::string text = sdw::a1111_parameters(p);
  sdw::test::TempDir dir;
  Image in = random_image(8, 8, 3, 20);
  write_file(dir.file("out.png"), sdw::encode_png(in, text));
  std::string png = read_file(dir.file("out.png"));
  auto texts = sdw::png_text_chunks(png);
  REQUIRE(texts.size() == 1);
  CHECK(texts[0] == std::make_pair(std::string("parameters"), text));
  CHECK(sdw::load_image(dir.file("out.png")).pixels == in.pixels);
}
