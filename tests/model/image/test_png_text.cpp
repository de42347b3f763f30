// PNG text chunks (model/image/png_text.cpp): png_text_chunks on hand-made chunks and on broken
// structure (CRC, signature, lengths, truncation), and the tEXt/iTXt choice of png_text_for.
#include <catch.hpp>

#include <string>
#include <vector>

#include "image_test_util.h"
#include "model/image/png_text.h"

using sdw::Image;
using sdw::ImageError;
using namespace sdw::image_test;

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

TEST_CASE("png_text_for: tEXt up to U+00FF, iTXt beyond, invalid UTF-8 and NUL refused", "[image][png]") {
  sdw::PngText t = sdw::png_text_for("parameters", "");
  CHECK(t.latin1);
  CHECK(t.text.empty());
  t = sdw::png_text_for("parameters", "plain ASCII\n\x7f");
  CHECK(t.latin1);
  CHECK(t.text == "plain ASCII\n\x7f");
  t = sdw::png_text_for("parameters", "\xc2\x80 \xc3\xbf");  // U+0080, U+00FF
  CHECK(t.latin1);
  CHECK(t.text == "\x80 \xff");
  t = sdw::png_text_for("parameters", "\xc4\x80");  // U+0100
  CHECK(!t.latin1);
  CHECK(t.text == "\xc4\x80");
  t = sdw::png_text_for("parameters", "\xf4\x8f\xbf\xbf");  // U+10FFFF
  CHECK(!t.latin1);
  CHECK(t.text == "\xf4\x8f\xbf\xbf");
  CHECK(contains(error_of([] { sdw::png_text_for("parameters", bin("a\0b")); }), "'parameters' contains a NUL"));
  for (const char* bad : {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80"}) {
    INFO("bytes " << bad);
    CHECK(contains(error_of([&] { sdw::png_text_for("parameters", bad); }), "not valid UTF-8"));
  }
}
