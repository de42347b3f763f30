// model/image/mask_overlay: A1111's inpainting overlay against Pillow's own output
// (tests/fixtures/a1111/mask_overlay_pil.json, its "source" says how it was made), and the two
// ends worked by hand: where the mask is white the result stays, where it is black the original
// comes back.
#include <catch.hpp>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "model/image/mask_overlay.h"
#include "test_util.h"

using namespace sdw;

namespace {

Image make(int w, int h, int channels, const std::function<uint8_t(int, int, int)>& f) {
  Image img;
  img.width = w, img.height = h, img.channels = channels;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) img.pixels.push_back(f(x, y, c));
  return img;
}

}  // namespace

TEST_CASE("equal to Pillow's paste and alpha_composite as A1111 does them", "[image][parity]") {
  std::ifstream in(test::fixture("a1111/mask_overlay_pil.json"));
  const nlohmann::json f = nlohmann::json::parse(in);
  const int w = f["width"], h = f["height"];
  const Image result = make(w, h, 3, [](int x, int y, int c) { return static_cast<uint8_t>((x * 37 + y * 11 + c * 71) % 256); });
  const Image original = make(w, h, 3, [](int x, int y, int c) { return static_cast<uint8_t>((x * 5 + y * 29 + c * 101 + 13) % 256); });
  const Image mask = make(w, h, 1, [](int x, int y, int) { return static_cast<uint8_t>((x * 17 + y * 23) % 256); });
  CHECK(a1111_mask_overlay(result, original, mask).pixels == f["composited"].get<std::vector<uint8_t>>());
}

TEST_CASE("a mask of 128 or more keeps the result, 0 gives the original back", "[image]") {
  // mask 128: clip(2 x 128) = 255, the overlay's alpha 0; mask 0: alpha 255, the original's
  // pixel (DIV255(v x 255) = v) composited fully: ((v x 255) << 7 + (128 << 7)) / 255 >> 7 = v.
  const Image result = make(3, 1, 3, [](int, int, int) { return uint8_t{10}; });
  const Image original = make(3, 1, 3, [](int, int, int) { return uint8_t{200}; });
  const Image mask = make(3, 1, 1, [](int x, int, int) { return static_cast<uint8_t>(x == 0 ? 0 : x == 1 ? 128 : 255); });
  CHECK(a1111_mask_overlay(result, original, mask).pixels == std::vector<uint8_t>{200, 200, 200, 10, 10, 10, 10, 10, 10});
  CHECK_THROWS_AS(a1111_mask_overlay(result, original, make(2, 1, 1, [](int, int, int) { return uint8_t{0}; })),
                  std::invalid_argument);
}
