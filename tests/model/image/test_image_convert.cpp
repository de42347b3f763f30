// Conversions and resizing (model/image/image_convert.cpp): to_gray with PIL's arithmetic, to_rgb,
// and resize (dimensions, constant colour, edges, premultiplied alpha).
#include <catch.hpp>

#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include "image_test_util.h"

using sdw::Image;
using sdw::ImageError;
using namespace sdw::image_test;

namespace {

// Pillow's rgb2l, written out here as the reference (libImaging/Convert.c, L24 >> 16).
int pil_luma(int r, int g, int b) { return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; }

}  // namespace

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
