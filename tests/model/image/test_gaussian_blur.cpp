// model/image/gaussian_blur: A1111's mask blur (cv2.GaussianBlur along x, then along y) against
// OpenCV's own output (tests/fixtures/a1111/mask_blur_cv2.json, its "source" says how it was
// made) and against a kernel worked out by hand from OpenCV's fixed-point construction.
#include <catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "model/image/gaussian_blur.h"
#include "test_util.h"

using namespace sdw;

namespace {

Image gray(int w, int h, std::vector<uint8_t> pixels) {
  Image img;
  img.width = w, img.height = h, img.channels = 1;
  img.pixels = std::move(pixels);
  return img;
}

}  // namespace

TEST_CASE("equal to OpenCV's blur of a mask, pixel for pixel, for blur 1, 3, 9 and 40", "[image][parity]") {
  std::ifstream in(test::fixture("a1111/mask_blur_cv2.json"));
  const nlohmann::json f = nlohmann::json::parse(in);
  const int w = f["width"], h = f["height"];
  std::vector<uint8_t> mask;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      mask.push_back(((x * 7 + y * 13) % 5 < 2 || (y >= 3 && y < 9 && x >= 4 && x < 15)) ? 255 : 0);
  for (const auto& [blur, expected] : f["blurred"].items()) {
    INFO("blur " << blur);
    CHECK(gaussian_blur_a1111(gray(w, h, mask), std::stoi(blur)).pixels == expected.get<std::vector<uint8_t>>());
  }
}

TEST_CASE("blur 1 by hand: the fixed-point kernel, rounding half up, the reflected border", "[image]") {
  // blur 1: k = 2 * int(2.5 + 0.5) + 1 = 7, sigma 1. exp(-x^2 / 2) for x = 3, 2, 1: 0.011109,
  // 0.135335, 0.606531, sum with the centre 2.505950, normalised 0.004433, 0.054005, 0.242036.
  // x 256 with the error carried: 1.135 -> 1 (+0.135), 13.825 + 0.135 = 13.960 -> 14 (-0.040),
  // 61.961 - 0.040 = 61.921 -> 62; centre 256 - 2 x 77 = 102. A white pixel: (w x 255 + 128) >> 8
  // = 1, 14, 62, 102; at the ends of 7 pixels the reflected tap adds the far one: 1 + 1 -> 2.
  // Height 1: the y pass keeps it.
  const Image out = gaussian_blur_a1111(gray(7, 1, {0, 0, 0, 255, 0, 0, 0}), 1);
  CHECK(out.pixels == std::vector<uint8_t>{2, 14, 62, 102, 62, 14, 2});
  // In 2D the x pass is rounded before the y pass: the centre (102 x 102 + 128) >> 8 = 41, above it
  // (62 x 102 + 128) >> 8 = 25, its right neighbour (102 x 62 + 128) >> 8 = 25.
  std::vector<uint8_t> px(49, 0);
  px[24] = 255;
  const Image two = gaussian_blur_a1111(gray(7, 7, px), 1);
  CHECK(int(two.pixels[24]) == 41);
  CHECK(int(two.pixels[17]) == 25);
  CHECK(int(two.pixels[25]) == 25);
  // BORDER_REFLECT_101 on a white first pixel of 4: x = -1, -2, -3 read columns 1, 2, 3 and
  // x = 4, 5, 6 read 2, 1, 0. x = 0: 102; x = 1: 62; x = 2: 14; x = 3 at -3 and, reflected, +3: 2.
  CHECK(gaussian_blur_a1111(gray(4, 1, {255, 0, 0, 0}), 1).pixels == std::vector<uint8_t>{102, 62, 14, 2});
  CHECK(gaussian_blur_a1111(gray(2, 1, {7, 9}), 0).pixels == std::vector<uint8_t>{7, 9});  // blur 0: unchanged
}
