// JPEG writing (model/image/jpeg_encode.cpp, libjpeg-turbo): round trips close to the source,
// quality against size, gray and RGBA input, and the file's structure (baseline, YCbCr, the
// chroma subsampling by quality).
#include <catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "image_test_util.h"

using sdw::Image;
using sdw::ImageError;
using namespace sdw::image_test;

namespace {

struct Segment {
  int marker;        // the byte after 0xFF
  std::string data;  // without the length field
};

// The marker segments before the first scan (SOS included).
std::vector<Segment> header_segments(const std::string& jpeg) {
  REQUIRE(jpeg.size() > 4);
  REQUIRE(jpeg.compare(0, 2, bin("\xff\xd8")) == 0);
  std::vector<Segment> out;
  size_t pos = 2;
  while (true) {
    REQUIRE(pos + 4 <= jpeg.size());
    REQUIRE(uint8_t(jpeg[pos]) == 0xff);
    const int marker = uint8_t(jpeg[pos + 1]);
    const size_t length = size_t(uint8_t(jpeg[pos + 2])) << 8 | uint8_t(jpeg[pos + 3]);
    REQUIRE(length >= 2);
    REQUIRE(pos + 2 + length <= jpeg.size());
    out.push_back({marker, jpeg.substr(pos + 4, length - 2)});
    if (marker == 0xda) return out;
    pos += 2 + length;
  }
}

const Segment* find_segment(const std::vector<Segment>& segments, int marker) {
  for (const Segment& s : segments) {
    if (s.marker == marker) return &s;
  }
  return nullptr;
}

}  // namespace

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

  // A JPEG written by stb_image_write (the encoder before libjpeg-turbo: same quantisation tables,
  // a different DCT) decodes to the same picture, not to the same bytes.
  Image via_stb = sdw::decode_image(stb_jpg(in, 95));
  CHECK(mean_abs_error(via_stb.pixels, in.pixels) < 3.0);
  CHECK(mean_abs_error(via_stb.pixels, out.pixels) < 1.5);

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

TEST_CASE("JPEG structure: baseline, JFIF, three YCbCr components, 4:2:0 up to quality 90", "[image][jpeg]") {
  const Image rgb = gradient_image(40, 24);
  for (int quality : {1, 50, 90, 91, 100}) {
    for (const Image& in : {rgb, sdw::to_gray(rgb), random_image(40, 24, 4, 3)}) {
      INFO("quality " << quality << ", " << in.channels << " channels");
      const std::string jpeg = sdw::encode_jpeg(in, quality);
      CHECK(jpeg.compare(jpeg.size() - 2, 2, bin("\xff\xd9")) == 0);
      const std::vector<Segment> segments = header_segments(jpeg);
      REQUIRE(segments.front().marker == 0xe0);  // APP0 first: JFIF
      CHECK(segments.front().data.compare(0, 5, bin("JFIF\0")) == 0);
      CHECK(find_segment(segments, 0xc1) == nullptr);  // not extended
      CHECK(find_segment(segments, 0xc2) == nullptr);  // not progressive
      const Segment* sof = find_segment(segments, 0xc0);  // baseline
      REQUIRE(sof != nullptr);
      REQUIRE(sof->data.size() == 6 + 3 * 3);
      CHECK(int(uint8_t(sof->data[0])) == 8);  // precision
      CHECK((uint8_t(sof->data[1]) << 8 | uint8_t(sof->data[2])) == 24);
      CHECK((uint8_t(sof->data[3]) << 8 | uint8_t(sof->data[4])) == 40);
      CHECK(int(uint8_t(sof->data[5])) == 3);  // Y, Cb, Cr (gray too)
      CHECK(int(uint8_t(sof->data[7])) == (quality <= 90 ? 0x22 : 0x11));  // Y sampling
      CHECK(int(uint8_t(sof->data[10])) == 0x11);
      CHECK(int(uint8_t(sof->data[13])) == 0x11);
      // Baseline quantisation tables: 8-bit entries (precision nibble 0).
      for (const Segment& s : segments) {
        if (s.marker == 0xdb) CHECK((uint8_t(s.data[0]) >> 4) == 0);
      }
      const Image back = sdw::decode_image(jpeg);
      CHECK(back.width == 40);
      CHECK(back.height == 24);
      CHECK(back.channels == 3);
    }
  }
}

TEST_CASE("JPEG: gray is written as RGB, alpha is ignored, 512x512 decodes close", "[image][jpeg]") {
  Image rgb = gradient_image(512, 512);
  uint32_t state = 7;
  for (auto& p : rgb.pixels) {  // a little noise, as in generated images
    state = state * 1664525u + 1013904223u;
    p = uint8_t(std::min(255, int(p) + int(state >> 30)));
  }
  const std::string jpeg = sdw::encode_jpeg(rgb, 90);
  const Image back = sdw::decode_image(jpeg);
  REQUIRE(back.pixels.size() == rgb.pixels.size());
  const double err = mean_abs_error(back.pixels, rgb.pixels);
  INFO("mean abs error at quality 90: " << err);
  CHECK(err < 2.5);
  CHECK(jpeg.size() < rgb.pixels.size() / 10);

  // RGBA: the same file as the RGB pixels alone, whatever the alpha.
  Image rgba = make_image(512, 512, 4);
  for (size_t i = 0; i < size_t(512) * 512; ++i) {
    for (int c = 0; c < 3; ++c) rgba.pixels[4 * i + c] = rgb.pixels[3 * i + c];
    rgba.pixels[4 * i + 3] = uint8_t(i * 7);
  }
  CHECK(sdw::encode_jpeg(rgba, 90) == jpeg);
  // Gray: the same file as its three-channel copy.
  const Image gray = sdw::to_gray(rgb);
  CHECK(sdw::encode_jpeg(gray, 80) == sdw::encode_jpeg(sdw::to_rgb(gray), 80));
}
