// Decoding (model/image/image_decode.cpp): the seeded fixtures (values checked against an
// independent decode and the mask's known geometry), PNG/BMP/GIF inputs made with stb's own writers
// or by hand, base64 image input, the pixel limit, Image checks, and malformed input (fuzz-style):
// every bad input must be an ImageError, never a crash.
#include <catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "image_test_util.h"
#include "test_util.h"

using sdw::Image;
using sdw::ImageError;
using namespace sdw::image_test;

namespace {

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

}  // namespace

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

TEST_CASE("PNG sides whose product overflows int64 are over the limit", "[image][fuzz]") {
  // Found by tests/fuzz/fuzz_image_decode: width x height of two 32-bit sides was multiplied in
  // int64_t, which overflows (undefined behaviour) and wrapped to a negative number under the limit.
  const std::string limit = std::to_string(sdw::kMaxInputPixels);
  std::string msg = error_of([] { sdw::decode_image(png_header_only(3635595722u, 3537097941u)); });
  CHECK(contains(msg, "3635595722x3537097941 = 12859458142594608402 pixels"));
  CHECK(contains(msg, "limit of " + limit));
  msg = error_of([] { sdw::check_pixel_limit(0xffffffffll, 0xffffffffll, sdw::kMaxInputPixels); });
  CHECK(contains(msg, "limit of " + limit));
  CHECK_NOTHROW(sdw::check_pixel_limit(4096, 4096, sdw::kMaxInputPixels));
  CHECK_THROWS_AS(sdw::check_pixel_limit(4097, 4096, sdw::kMaxInputPixels), ImageError);
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
