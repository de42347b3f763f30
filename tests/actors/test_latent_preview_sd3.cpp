// SD3's latent previews: the 16x3 latent -> RGB factors and bias of ComfyUI's SD3 latent format
// applied to 16-channel latents, at latent resolution; 4-channel latents are not SD3's.
#include <catch.hpp>

#include "actors/preview.h"

using namespace sdw;
using namespace sdw::actors;

TEST_CASE("SD3 latent previews map 16 channels through SD3's factors and bias", "[actors]") {
  at::Tensor lat = at::zeros({2, 16, 3, 5});
  Image zero = latent_preview(lat, "sd3");
  CHECK(zero.width == 5);
  CHECK(zero.height == 3);
  CHECK(zero.channels == 3);
  // Zero latents give the bias (0.2394, 0.2135, 0.1925) mapped from [-1, 1] to [0, 255].
  CHECK(zero.pixels[0] == 158);
  CHECK(zero.pixels[1] == 155);
  CHECK(zero.pixels[2] == 152);
  // Channel 15 = 1 adds its row (-0.1448, -0.1463, -0.1189); channel 2 = 1 in one pixel adds
  // (0.1994, 0.0927, 0.0458) there only.
  lat[0][15].fill_(1.0);
  lat[0][2][1][4] = 1.0;
  Image img = latent_preview(lat, "sd3");
  CHECK(img.pixels[0] == 140);  // (0.2394 - 0.1448 + 1) * 127.5 = 139.6
  CHECK(img.pixels[1] == 136);  // (0.2135 - 0.1463 + 1) * 127.5 = 136.1
  CHECK(img.pixels[2] == 137);  // (0.1925 - 0.1189 + 1) * 127.5 = 136.9
  const size_t at14 = (1 * 5 + 4) * 3;
  CHECK(img.pixels[at14] == 165);      // (0.2394 - 0.1448 + 0.1994 + 1) * 127.5 = 165.0
  CHECK(img.pixels[at14 + 1] == 148);  // (0.2135 - 0.1463 + 0.0927 + 1) * 127.5 = 147.9
  CHECK(img.pixels[at14 + 2] == 143);  // (0.1925 - 0.1189 + 0.0458 + 1) * 127.5 = 142.7
  CHECK_THROWS_WITH(latent_preview(at::zeros({1, 4, 2, 2}), "sd3"), Catch::Contains("needs 16 latent channels"));
}
