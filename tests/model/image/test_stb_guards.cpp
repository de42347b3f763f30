// The checks in front of stb_image (model/image/stb_guards.cpp): PNG chunk structure and
// decompression bombs, JPEG Huffman tables with more than 256 codes and scan floods.
#include <catch.hpp>

#include <string>
#include <vector>

#include "image_test_util.h"

using sdw::Image;
using sdw::ImageError;
using namespace sdw::image_test;

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
  std::string msg = error_of([&] { sdw::decode_image(jpeg(100)); });  // an error (no tables), not the limit's
  CHECK(!msg.empty());
  CHECK(!contains(msg, "scans"));
}

TEST_CASE("JPEG scans that use a Huffman table no DHT defined are refused", "[image][jpeg][fuzz]") {
  // stb_image 2.27 keeps its Huffman tables in uninitialised memory: such a scan decodes whatever
  // was there (the result changed with what earlier code had freed).
  const std::string valid = sdw::encode_jpeg(gradient_image(16, 16), 80);
  // The segments before the scan data, split into the DHT segments and the others.
  std::string head, dht, rest;
  size_t pos = 2;
  while (true) {
    REQUIRE(uint8_t(valid[pos]) == 0xff);
    const int marker = uint8_t(valid[pos + 1]);
    const size_t length = size_t(uint8_t(valid[pos + 2])) << 8 | uint8_t(valid[pos + 3]);
    const std::string segment = valid.substr(pos, 2 + length);
    if (marker == 0xda) {
      rest = valid.substr(pos);
      break;
    }
    (marker == 0xc4 ? dht : head) += segment;
    pos += 2 + length;
  }
  REQUIRE(!dht.empty());
  CHECK(sdw::decode_image(bin("\xff\xd8") + head + dht + rest).pixels == sdw::decode_image(valid).pixels);
  std::string msg = error_of([&] { sdw::decode_image(bin("\xff\xd8") + head + rest); });
  CHECK(contains(msg, "uses DC Huffman table 0, which no DHT defines"));
  // DC tables 0 and 1 only (the standard luminance DC table twice): the AC table is missing.
  const std::string dc_table = bin("\x00\x01\x05\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00") +
                               bin("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b");
  const std::string dc_only = bin("\xff\xc4\x00\x3c") + '\x00' + dc_table + '\x01' + dc_table;
  msg = error_of([&] { sdw::decode_image(bin("\xff\xd8") + head + dc_only + rest); });
  CHECK(contains(msg, "uses AC Huffman table 0, which no DHT defines"));
  // A table defined after the scan that needs it does not count.
  msg = error_of([&] { sdw::decode_image(bin("\xff\xd8") + head + rest.substr(0, rest.size() - 2) + dht + bin("\xff\xd9")); });
  CHECK(contains(msg, "which no DHT defines"));
}

namespace {

// Hand-made JPEGs with one Huffman code ('0') in DC table 0 (difference 0) and in AC table 0 (end
// of block): a baseline block is two bits, and every decoded pixel is gray 128.
std::string jpeg_segment(int marker, const std::string& body) {
  const size_t length = body.size() + 2;
  return std::string{'\xff', char(marker), char(length >> 8), char(length & 0xff)} + body;
}

// DQT segment defining quantization table `id` (all ones).
std::string jpeg_dqt(int id) { return jpeg_segment(0xdb, std::string(1, char(id)) + std::string(64, '\x01')); }

// SOI, DQT of table 0, SOFn (8-bit, `width` x 8, components 1.. with 1x1 sampling and quantization
// table `quant_table`), DHT, [DRI].
std::string jpeg_head(int sof, int width, int components, int restart_interval = 0, int quant_table = 0) {
  std::string frame = bin("\x08\x00\x08") + char(width >> 8) + char(width & 0xff) + char(components);
  for (int i = 1; i <= components; ++i) frame += std::string{char(i), '\x11', char(quant_table)};
  const std::string one_code = bin("\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
  std::string head = bin("\xff\xd8") + jpeg_dqt(0) + jpeg_segment(sof, frame) + jpeg_segment(0xc4, '\x00' + one_code + '\x10' + one_code);
  if (restart_interval > 0) head += jpeg_segment(0xdd, std::string{'\0', char(restart_interval)});
  return head;
}

// SOS for the given component ids with spectral selection ss..se (tables 0) and its data.
std::string jpeg_scan(const std::string& ids, int ss, int se, const std::string& data) {
  std::string body(1, char(ids.size()));
  for (char id : ids) body += std::string{id, '\x00'};
  return jpeg_segment(0xda, body + char(ss) + char(se) + '\x00') + data;
}

const std::string kEoi = bin("\xff\xd9");

bool all_gray_128(const Image& image) {
  for (uint8_t v : image.pixels)
    if (v != 128) return false;
  return !image.pixels.empty();
}

}  // namespace

TEST_CASE("JPEGs stb would leave partly undecoded (uninitialised memory) are refused", "[image][jpeg][fuzz]") {
  // stb_image 2.27 allocates pixel and coefficient buffers without initialising them and returns an
  // image for these: its pixels were whatever the heap held (found while seeding tests/fuzz).
  SECTION("a component no scan decodes") {
    // No scan at all (gray), then one component of three.
    CHECK(contains(error_of([] { sdw::decode_image(jpeg_head(0xc0, 16, 1) + kEoi); }), "component 1 has no scan"));
    const std::string head = jpeg_head(0xc0, 16, 3);
    const std::string y_only = head + jpeg_scan("\x01", 0, 63, bin("\x0f")) + kEoi;
    CHECK(contains(error_of([&] { sdw::decode_image(y_only); }), "component 2 has no scan"));
    // One scan per component, or one for all three: complete.
    const std::string each = head + jpeg_scan("\x01", 0, 63, bin("\x0f")) + jpeg_scan("\x02", 0, 63, bin("\x0f")) +
                             jpeg_scan("\x03", 0, 63, bin("\x0f")) + kEoi;
    CHECK(all_gray_128(sdw::decode_image(each)));
    CHECK(all_gray_128(sdw::decode_image(head + jpeg_scan("\x01\x02\x03", 0, 63, bin("\x00\x0f")) + kEoi)));
  }
  SECTION("a progressive component without a first DC scan") {
    const std::string head = jpeg_head(0xc2, 8, 1);
    const std::string ac_only = head + jpeg_scan("\x01", 1, 63, bin("\x7f")) + kEoi;
    CHECK(contains(error_of([&] { sdw::decode_image(ac_only); }), "component 1 has no first DC scan"));
    const std::string dc_then_ac = head + jpeg_scan("\x01", 0, 0, bin("\x7f")) + jpeg_scan("\x01", 1, 63, bin("\x7f")) + kEoi;
    CHECK(all_gray_128(sdw::decode_image(dc_then_ac)));
  }
  SECTION("a scan with fewer restart markers than restart intervals") {
    // 16x8 gray: two blocks, one per restart interval, so one RST0 between them.
    const std::string head = jpeg_head(0xc0, 16, 1, 1);
    CHECK(all_gray_128(sdw::decode_image(head + jpeg_scan("\x01", 0, 63, bin("\x3f\xff\xd0\x3f")) + kEoi)));
    const std::string no_rst = head + jpeg_scan("\x01", 0, 63, bin("\x3f\x3f")) + kEoi;
    CHECK(contains(error_of([&] { sdw::decode_image(no_rst); }), "has 0 restart markers for 2 restart intervals"));
    const std::string cut = head + jpeg_scan("\x01", 0, 63, bin("\x3f")) + kEoi;
    CHECK(contains(error_of([&] { sdw::decode_image(cut); }), "has 0 restart markers for 2 restart intervals"));
  }
  SECTION("a quantization table no DQT defined") {
    // Found by tests/fuzz/fuzz_image_decode (a JPEG whose second DQT marker lost a bit): stb
    // dequantized the chroma with its uninitialised table 1.
    const std::string scan = jpeg_scan("\x01", 0, 63, bin("\x0f"));
    const std::string head = jpeg_head(0xc0, 16, 1, 0, 1);
    const std::string expected = "decodes component 1 with quantization table 1, which no DQT defines";
    CHECK(contains(error_of([&] { sdw::decode_image(head + scan + kEoi); }), expected));
    CHECK(contains(error_of([&] { sdw::decode_image(head + scan + jpeg_dqt(1) + kEoi); }), expected));  // too late
    CHECK(all_gray_128(sdw::decode_image(head + jpeg_dqt(1) + scan + kEoi)));
    // Progressive images are dequantized at the end: a table defined after the scans still counts.
    const std::string progressive = jpeg_head(0xc2, 8, 1, 0, 1) + jpeg_scan("\x01", 0, 0, bin("\x7f"));
    CHECK(contains(error_of([&] { sdw::decode_image(progressive + kEoi); }),
                   "component 1 uses quantization table 1, which no DQT defines"));
    CHECK(all_gray_128(sdw::decode_image(progressive + jpeg_dqt(1) + kEoi)));
  }
}

TEST_CASE("PNG image data with a distance code stb_image misreads is refused", "[image][png][fuzz]") {
  // Found by tests/fuzz/fuzz_image_decode: stb's inflater (2.27) takes the invalid deflate distance
  // codes 30 and 31 for a distance of 0 and copies bytes of its output it never wrote.
  struct BitWriter {  // deflate bit order: values LSB first, Huffman codes MSB first
    std::string bytes;
    int used = 8;
    void bit(int b) {
      if (used == 8) {
        bytes += '\0';
        used = 0;
      }
      if (b) bytes.back() = char(bytes.back() | (1 << used));
      ++used;
    }
    void value(uint32_t v, int n) {
      for (int i = 0; i < n; ++i) bit(int(v >> i) & 1);
    }
    void code(uint32_t c, int n) {
      for (int i = n - 1; i >= 0; --i) bit(int(c >> i) & 1);
    }
  };
  // A 4x1 gray image: filter byte 0, pixel 0x10, then "3 more bytes at `distance_code`".
  auto png = [](int distance_code) {
    BitWriter w;
    w.value(1, 1);  // final block
    w.value(1, 2);  // fixed Huffman codes
    w.code(0x30 + 0x00, 8);
    w.code(0x30 + 0x10, 8);
    w.code(1, 7);  // length 3
    w.code(uint32_t(distance_code), 5);
    w.code(0, 7);  // end of block
    const std::string ihdr = be32(4) + be32(1) + bin("\x08\x00\x00\x00\x00");
    return kPngSignature + png_chunk("IHDR", ihdr) + png_chunk("IDAT", bin("\x78\x01") + w.bytes) + png_chunk("IEND", "");
  };
  const Image image = sdw::decode_image(png(0));  // distance 1: the pixel repeated
  CHECK(image.pixels == std::vector<uint8_t>(4, 0x10));
  CHECK(contains(error_of([&] { sdw::decode_image(png(30)); }), "cannot decode PNG: invalid distance code"));
  CHECK(contains(error_of([&] { sdw::decode_image(png(31)); }), "cannot decode PNG: invalid distance code"));
  // A stream that stops before its end: stb would go on with zero bits.
  const std::string full = png(0);
  std::vector<Chunk> chunks = walk_chunks(full);
  const std::string cut = kPngSignature + png_chunk("IHDR", chunks[0].data) +
                          png_chunk("IDAT", chunks[1].data.substr(0, chunks[1].data.size() - 1)) + png_chunk("IEND", "");
  CHECK(contains(error_of([&] { sdw::decode_image(cut); }), "cannot decode PNG: "));
}

namespace {

std::string le32(uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; }

// A palette BMP (BITMAPINFOHEADER) with `entries` palette colours (entry i = (i, 2i, 3i)) and the
// given rows of packed index bytes (each padded to 4 bytes here); `offset` < 0: the right one.
std::string palette_bmp(int width, int height, int bpp, int entries, const std::vector<std::string>& rows, int64_t offset = -1) {
  std::string palette, pixels;
  for (int i = 0; i < entries; ++i) palette += std::string{char(3 * i), char(2 * i), char(i), '\0'};
  for (const std::string& row : rows) pixels += row + std::string((4 - row.size() % 4) % 4, '\0');
  const uint32_t data_at = uint32_t(offset >= 0 ? offset : 14 + 40 + int64_t(palette.size()));
  const std::string info = le32(40) + le32(uint32_t(width)) + le32(uint32_t(height)) + std::string{'\x01', '\0'} +
                           std::string{char(bpp), '\0'} + le32(0) + le32(uint32_t(pixels.size())) + le32(2835) +
                           le32(2835) + le32(uint32_t(entries)) + le32(0);
  return "BM" + le32(uint32_t(14 + info.size() + palette.size() + pixels.size())) + le32(0) + le32(data_at) + info +
         palette + pixels;
}

}  // namespace

TEST_CASE("BMP pixel indices past the palette are refused", "[image][bmp][fuzz]") {
  // Found by tests/fuzz/fuzz_image_decode: stb_image 2.27 keeps the palette in a stack array it
  // does not initialise, so such indices (or any index, when the data offset leaves no room for a
  // palette) gave whatever the stack held.
  const Image ok = sdw::decode_image(palette_bmp(4, 2, 8, 4, {bin("\x00\x01\x02\x03"), bin("\x03\x02\x01\x00")}));
  REQUIRE(ok.width == 4);
  CHECK(ok.pixels[0] == 3);  // the top row is stored last: index 3 = (3, 6, 9)
  CHECK(ok.pixels[1] == 6);
  CHECK(ok.pixels[2] == 9);
  CHECK(contains(error_of([] { sdw::decode_image(palette_bmp(4, 2, 8, 4, {bin("\x00\x01\x02\x03"), bin("\x00\xc8\x00\x00")})); }),
                 "pixel index 200 but the palette has 4 entries"));
  CHECK(contains(error_of([] { sdw::decode_image(palette_bmp(4, 1, 8, 4, {bin("\x00\x00\x00\x00")}, 0)); }),
                 "leaves no room for a palette"));
  // Bits no pixel uses do not count: 3 pixels of 4 bits (low nibble of the second byte unused),
  // 3 pixels of 1 bit (the low 5 bits unused).
  CHECK(sdw::decode_image(palette_bmp(3, 1, 4, 2, {bin("\x10\x1f")})).width == 3);
  CHECK(contains(error_of([] { sdw::decode_image(palette_bmp(3, 1, 4, 2, {bin("\x10\x21")})); }),
                 "pixel index 2 but the palette has 2 entries"));
  CHECK(sdw::decode_image(palette_bmp(3, 1, 1, 2, {bin("\xbf")})).width == 3);
  CHECK(contains(error_of([] { sdw::decode_image(palette_bmp(3, 1, 1, 1, {bin("\x20")})); }),
                 "pixel index 1 but the palette has 1 entries"));
}
