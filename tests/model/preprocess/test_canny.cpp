// The canny preprocessor (model/preprocess/canny.h) is OpenCV's: on a fixed image and fixed
// thresholds its output equals cv::Canny called here on the same RGB pixels, as a 3-channel image
// of the same size whose every pixel is 0 or 255 and equal in R, G and B. Through a request, the
// control image is resized to the output size first and then becomes exactly that edge map.
#include <catch.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "model/image/pil_resize.h"
#include "model/pipeline/controlnet_stage.h"
#include "model/pipeline/sd_model.h"
#include "model/pipeline/stages.h"
#include "model/preprocess/canny.h"
#include "test_util.h"

using namespace sdw;

namespace {

Image reference_canny(const Image& image, double low, double high) {
  Image rgb = to_rgb(image);
  cv::Mat in(rgb.height, rgb.width, CV_8UC3, rgb.pixels.data());
  cv::Mat edges;
  cv::Canny(in, edges, low, high);
  Image out;
  out.width = rgb.width;
  out.height = rgb.height;
  out.channels = 3;
  for (int y = 0; y < rgb.height; ++y)
    for (int x = 0; x < rgb.width; ++x)
      for (int c = 0; c < 3; ++c) out.pixels.push_back(edges.at<uint8_t>(y, x));
  return out;
}

}  // namespace

TEST_CASE("canny_edges is cv::Canny on the RGB image, as a 3-channel 0/255 map", "[preprocess]") {
  const Image image = load_image(test::fixture("seeded/init_64x64.png"));
  for (const auto& [low, high] : std::vector<std::pair<double, double>>{{50, 100}, {20, 60}, {10, 30}}) {
    INFO(low << " " << high);
    const Image edges = canny_edges(image, low, high);
    REQUIRE(edges.width == image.width);
    REQUIRE(edges.height == image.height);
    REQUIRE(edges.channels == 3);
    CHECK(edges.pixels == reference_canny(image, low, high).pixels);
    size_t on = 0;
    for (size_t i = 0; i < edges.pixels.size(); i += 3) {
      const uint8_t v = edges.pixels[i];
      REQUIRE((v == 0 || v == 255));
      REQUIRE((edges.pixels[i + 1] == v && edges.pixels[i + 2] == v));
      on += v == 255;
    }
    CHECK(on > 0);                                        // the image has edges at these thresholds
    CHECK(on < edges.pixels.size() / 3);                  // and not everywhere
  }
  // Lower thresholds find at least the edges higher ones find (hysteresis), here strictly more.
  const Image strict = canny_edges(image, 50, 100), loose = canny_edges(image, 10, 30);
  size_t strict_on = 0, loose_on = 0;
  for (size_t i = 0; i < strict.pixels.size(); ++i) {
    strict_on += strict.pixels[i] == 255;
    loose_on += loose.pixels[i] == 255;
  }
  CHECK(loose_on > strict_on);
  CHECK_THROWS_AS(canny_edges(image, 200, 100), PreprocessError);
  CHECK_THROWS_AS(canny_edges(image, -1, 100), PreprocessError);
  CHECK_THROWS_AS(canny_edges(image, 10, 300), PreprocessError);
}

TEST_CASE("a request's canny control image is the edge map of the resized image", "[preprocess][controlnet]") {
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  GenerationRequest r;
  r.prompt = "a house";
  r.width = 48;
  r.height = 40;
  r.steps = 2;
  ControlNetUse use;
  use.path = test::fixture("controlnet/tiny-controlnet-sd15");
  use.image = load_image(test::fixture("seeded/init_64x64.png"));
  use.preprocess = "canny";
  use.canny_low = 50;
  use.canny_high = 100;
  r.controlnets.push_back(use);
  const ResolvedRequest resolved = resolve_request(*model, r);
  const ControlNetUse& got = resolved.request.controlnets.at(0);
  CHECK(got.preprocessed);
  CHECK(got.image.pixels == reference_canny(resize_lanczos_pil(to_rgb(use.image), 48, 40), 50, 100).pixels);
  // Resolving the resolved request again leaves the edge map as it is.
  CHECK(resolve_request(*model, resolved.request).request.controlnets.at(0).image.pixels == got.image.pixels);
  r.controlnets[0].canny_high = 400;
  CHECK_THROWS_AS(resolve_request(*model, r), RequestError);
}
