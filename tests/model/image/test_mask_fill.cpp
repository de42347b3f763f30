// A1111's "fill" masked content and Pillow's GaussianBlur (model/image/mask_fill.h) against
// Pillow 9.4's own output (tests/fixtures/a1111/mask_fill_pil.json, written by make_mask_fill.py
// there): equal byte for byte, including a blur radius far larger than the image and soft mask
// edges (partial alpha through the paste, the un-premultiplying and the compositing).
#include <catch.hpp>

#include <string>
#include <vector>

#include "model/image/mask_fill.h"
#include "test_util.h"

using namespace sdw;

namespace {

// The fixture's input image (make_mask_fill.py's pattern()).
Image pattern(int w, int h, int channels) {
  Image im{w, h, channels, std::vector<uint8_t>(static_cast<size_t>(w) * h * channels)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &im.pixels[(static_cast<size_t>(y) * w + x) * channels];
      for (int c = 0; c < 3; ++c) p[c] = static_cast<uint8_t>((37 * x + 11 * y + 71 * c) % 256);
      if (channels == 4) p[3] = static_cast<uint8_t>((13 * x + 7 * y) % 256);
    }
  return im;
}

// The number of bytes that differ, and the largest difference.
std::pair<int, int> differences(const std::vector<uint8_t>& got, const std::vector<int>& want) {
  REQUIRE(got.size() == want.size());
  int n = 0, largest = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const int d = std::abs(static_cast<int>(got[i]) - want[i]);
    n += d > 0;
    largest = std::max(largest, d);
  }
  return {n, largest};
}

}  // namespace

TEST_CASE("Pillow's GaussianBlur, byte for byte", "[parity][image]") {
  const auto fixture = test::read_json(test::fixture("a1111/mask_fill_pil.json"));
  REQUIRE(fixture["blur"].size() == 5);
  for (const auto& c : fixture["blur"]) {
    const float radius = c["radius"].get<float>();
    const Image in = pattern(c["width"], c["height"], c["channels"]);
    const Image out = pil_gaussian_blur(in, radius);
    const auto [n, largest] = differences(out.pixels, c["blurred"].get<std::vector<int>>());
    INFO("radius " << radius << ", " << in.width << "x" << in.height << "x" << in.channels << ": " << n
                   << " bytes differ, by up to " << largest);
    CHECK(n == 0);
    if (radius > 0) CHECK(out.pixels != in.pixels);  // it blurs
  }
}

TEST_CASE("A1111's fill of the masked area equals Pillow's, and keeps the unmasked pixels", "[parity][image]") {
  const auto fixture = test::read_json(test::fixture("a1111/mask_fill_pil.json"));
  REQUIRE(fixture["fill"].size() == 2);
  for (const auto& c : fixture["fill"]) {
    const int w = c["width"], h = c["height"];
    Image mask{w, h, 1, {}};
    for (int v : c["mask"].get<std::vector<int>>()) mask.pixels.push_back(static_cast<uint8_t>(v));
    const Image image = pattern(w, h, 3);
    const Image filled = fill_masked_area(image, mask);
    const auto [n, largest] = differences(filled.pixels, c["filled"].get<std::vector<int>>());
    INFO(w << "x" << h << ": " << n << " bytes differ, by up to " << largest);
    CHECK(n == 0);
    int kept = 0, changed = 0;
    for (size_t p = 0; p < mask.pixels.size(); ++p)
      for (size_t ch = 0; ch < 3; ++ch) {
        if (mask.pixels[p] == 0) kept += filled.pixels[p * 3 + ch] == image.pixels[p * 3 + ch];
        if (mask.pixels[p] == 255) changed += filled.pixels[p * 3 + ch] != image.pixels[p * 3 + ch];
      }
    CHECK(kept == 3 * static_cast<int>(std::count(mask.pixels.begin(), mask.pixels.end(), 0)));
    CHECK(changed > 0);
  }
  CHECK_THROWS_AS(fill_masked_area(pattern(8, 8, 3), Image{4, 4, 1, std::vector<uint8_t>(16)}), ImageError);
}
