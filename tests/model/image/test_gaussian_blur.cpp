// model/image/gaussian_blur: A1111's mask blur (cv2.GaussianBlur along x, then along y) against
// values worked out by hand from OpenCV's getGaussianKernel and BORDER_REFLECT_101.
#include <catch.hpp>

#include "model/image/gaussian_blur.h"

using namespace sdw;

namespace {

Image gray(int w, int h, std::vector<uint8_t> pixels) {
  Image img;
  img.width = w, img.height = h, img.channels = 1;
  img.pixels = std::move(pixels);
  return img;
}

}  // namespace

TEST_CASE("blur 1: a 7-tap kernel; one white pixel spreads as the rounded kernel", "[image]") {
  // blur 1: k = 2 * int(2.5 + 0.5) + 1 = 7, sigma 1. exp(-x^2/2) for x = 0..3: 1, 0.606531,
  // 0.135335, 0.011109; sum 2.505950; normalised 0.399050, 0.242036, 0.054005, 0.004433.
  // 255 x those: 101.76, 61.72, 13.77, 1.13 -> 102, 62, 14, and at the ends 2: x = 0 reads the
  // white pixel at offset +3 and, reflected (-3 -> 3), at -3 too: 2 x 1.13 = 2.26 -> 2.
  // Height 1: the y pass keeps it.
  const Image out = gaussian_blur_a1111(gray(7, 1, {0, 0, 0, 255, 0, 0, 0}), 1);
  CHECK(out.pixels == std::vector<uint8_t>{2, 14, 62, 102, 62, 14, 2});
  // In 2D the x pass is rounded before the y pass: the centre is 102 x 0.399050 = 40.70 -> 41,
  // above it 102 x 0.242036 = 24.69 -> 25, its right neighbour 62 x 0.399050 = 24.74 -> 25.
  std::vector<uint8_t> px(49, 0);
  px[24] = 255;
  const Image two = gaussian_blur_a1111(gray(7, 7, px), 1);
  CHECK(int(two.pixels[24]) == 41);
  CHECK(int(two.pixels[17]) == 25);
  CHECK(int(two.pixels[25]) == 25);
}

TEST_CASE("the border reflects without repeating the edge (BORDER_REFLECT_101)", "[image]") {
  // A white first pixel of 4, reflected: x = -1, -2, -3 read columns 1, 2, 3 and x = 4, 5, 6
  // read 2, 1, 0. x = 0 sees the 255 at offset 0: 101.76 -> 102; x = 1 at offset -1: 61.72 -> 62;
  // x = 2 at -2: 13.77 -> 14; x = 3 at -3 and, reflected (3 + 3 = 6 -> 0), at +3: 2 x 1.13 -> 2.
  const Image out = gaussian_blur_a1111(gray(4, 1, {255, 0, 0, 0}), 1);
  CHECK(out.pixels == std::vector<uint8_t>{102, 62, 14, 2});
  CHECK(gaussian_blur_a1111(gray(2, 1, {7, 9}), 0).pixels == std::vector<uint8_t>{7, 9});  // blur 0: unchanged
}
