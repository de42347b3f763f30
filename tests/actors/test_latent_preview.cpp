// Latent previews (actors/preview.h): the SD 4x3 latent -> RGB matrix, and latents of another
// channel count refused. SD3's 16-channel previews are in test_latent_preview_sd3.cpp.
#include <catch.hpp>

#include "actors/preview.h"

using namespace sdw;
using namespace sdw::actors;

TEST_CASE("latent previews use the SD 4x3 latent -> RGB matrix", "[actors]") {
  at::Tensor lat = at::zeros({1, 4, 2, 3});
  lat[0][0].fill_(1.0);
  Image img = latent_preview(lat, "sd1");
  CHECK(img.width == 3);
  CHECK(img.height == 2);
  CHECK(img.channels == 3);
  // (0.3512, 0.2297, 0.3227) mapped from [-1, 1] to [0, 255]
  CHECK(img.pixels[0] == 172);
  CHECK(img.pixels[1] == 157);
  CHECK(img.pixels[2] == 169);
  CHECK_THROWS(latent_preview(at::zeros({1, 16, 2, 2}), "sd1"));
}
