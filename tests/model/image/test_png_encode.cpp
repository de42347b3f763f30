// PNG writing (model/image/png_encode.cpp, libpng): lossless round trips, chunk CRCs checked with
// the tests' own walker, compression, the `parameters` chunk (tEXt or iTXt, right after IHDR),
// and the deflate stream: one IDAT, the first row unfiltered and the others Up, byte-identical to
// zlib level 1 with Z_RLE over the whole filtered image (the encoder before libpng).
#include <catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <zlib.h>

#include "image_test_util.h"

using sdw::Image;
using sdw::ImageError;
using namespace sdw::image_test;

namespace {

// The rows as the encoder before libpng filtered them: the first row None (0), the others Up (2).
std::string filtered_rows(const Image& im) {
  const size_t row = size_t(im.width) * im.channels;
  std::string out;
  for (int y = 0; y < im.height; ++y) {
    const uint8_t* cur = im.pixels.data() + size_t(y) * row;
    out += char(y == 0 ? 0 : 2);
    for (size_t i = 0; i < row; ++i) out += char(y == 0 ? cur[i] : uint8_t(cur[i] - cur[i - row]));
  }
  return out;
}

// That encoder's IDAT data: the whole filtered image deflated at once, level 1, Z_RLE, 32 KiB
// window, memLevel 8.
std::string old_encoder_idat(const Image& im) {
  const std::string raw = filtered_rows(im);
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 1, Z_DEFLATED, 15, 8, Z_RLE) == Z_OK);
  std::string out(deflateBound(&zs, uLong(raw.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = uInt(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string inflate_all(const std::string& data, size_t expected_size) {
  std::string out(expected_size + 1, '\0');
  uLongf size = uLongf(out.size());
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(data.data()),
                     uLong(data.size())) == Z_OK);
  out.resize(size);
  return out;
}

// A generated-like image: smooth gradients and a little noise.
Image natural_image(int w, int h, int c) {
  Image im = make_image(w, h, c);
  uint32_t state = 12345;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) {
        state = state * 1664525u + 1013904223u;
        im.pixels[(size_t(y) * w + x) * c + k] = uint8_t(std::min(255, (x * (k + 1) + y * 2) / 5 % 256 + int(state >> 29)));
      }
  return im;
}

}  // namespace

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

TEST_CASE("PNG layout: IHDR, the parameters chunk, one IDAT, IEND", "[image][png]") {
  for (int c : {1, 3, 4}) {
    INFO(c << " channels");
    const Image in = natural_image(300, 200, c);
    const std::vector<Chunk> chunks = walk_chunks(sdw::encode_png(in, "a prompt\nSteps: 20"));
    REQUIRE(chunks.size() == 4);
    CHECK(chunks[0].type == "IHDR");
    CHECK(chunks[1].type == "tEXt");
    CHECK(chunks[2].type == "IDAT");
    CHECK(chunks[3].type == "IEND");
    for (const Chunk& chunk : chunks) CHECK(chunk.crc_ok);
    // 300 x 200, 8 bits, colour type gray (0) / RGB (2) / RGBA (6), deflate, adaptive, no interlace.
    const char color = c == 1 ? 0 : c == 3 ? 2 : 6;
    CHECK(chunks[0].data == be32(300) + be32(200) + std::string{8, color, 0, 0, 0});
    CHECK(chunks[3].data.empty());
    CHECK(walk_chunks(sdw::encode_png(in)).size() == 3);  // IHDR, IDAT, IEND
  }
}

TEST_CASE("PNG image data: the first row unfiltered, the others Up, as the zlib encoder wrote it",
          "[image][png]") {
  // Above 16 KiB of filtered data libpng keeps the 32 KiB window: the IDAT is byte for byte what
  // the encoder before libpng wrote (zlib level 1, Z_RLE, all rows at once), so are whole files.
  for (auto [w, h, c] : {std::tuple<int, int, int>{512, 512, 3}, {129, 128, 1}, {200, 100, 4}, {1, 20000, 1}, {20000, 1, 3}}) {
    INFO(w << "x" << h << "x" << c);
    const Image in = natural_image(w, h, c);
    const std::vector<Chunk> chunks = walk_chunks(sdw::encode_png(in, "Steps: 20"));
    REQUIRE(chunks.size() == 4);
    CHECK(chunks[2].data == old_encoder_idat(in));
    CHECK(inflate_all(chunks[2].data, size_t(w) * h * c + h) == filtered_rows(in));
  }
  // Below that libpng narrows the window in the zlib header (CMF, and so FLG's check bits); the
  // deflate data after the 2-byte header and its Adler-32 are the same.
  for (auto [w, h, c] : {std::tuple<int, int, int>{64, 64, 3}, {1, 1, 1}, {1, 7, 4}, {7, 1, 3}, {37, 23, 1}}) {
    INFO(w << "x" << h << "x" << c);
    const Image in = natural_image(w, h, c);
    const std::vector<Chunk> chunks = walk_chunks(sdw::encode_png(in));
    REQUIRE(chunks.size() == 3);
    const std::string idat = chunks[1].data;
    const std::string old = old_encoder_idat(in);
    CHECK(idat.substr(2) == old.substr(2));
    CHECK(int(uint8_t(idat[0]) & 0x0f) == 8);                   // deflate
    CHECK((uint8_t(idat[0]) >> 4) <= 7);                        // window at most 32 KiB
    CHECK(((uint8_t(idat[0]) << 8) | uint8_t(idat[1])) % 31 == 0);  // valid FCHECK
    CHECK(inflate_all(idat, size_t(w) * h * c + h) == filtered_rows(in));
    CHECK(sdw::decode_image(sdw::encode_png(in)).pixels == in.pixels);
  }
}
