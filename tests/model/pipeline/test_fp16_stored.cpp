// fp16-stored weights on the CPU (`--dtype fp16` there, nn/layers.h): the tiny SD1.5 pipeline
// loaded in fp16 keeps its UNet and text encoder weights in fp16 (half the bytes; the VAE stays
// fp32, vae_fp32), computes with fp32 activations, and gives the seeded case `sd15_default`
// within a measured tolerance of diffusers' fp32 image (measured: max 1 level, mean 0.019 of 255,
// where our fp32 image is exact).
#include <catch.hpp>

#include <iostream>

#include "model/image/image_io.h"
#include "model/nn/layers.h"
#include "model/pipeline/generate.h"
#include "test_util.h"

using namespace sdw;

namespace {

// Twice the measured difference (max 1, mean 0.019): the fp16 rounding of the weights only.
constexpr int kMaxPixelDiff = 2;
constexpr double kMaxMeanDiff = 0.04;

int64_t param_bytes(const torch::nn::Module& m, at::ScalarType* only_dtype = nullptr) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) {
    if (only_dtype) CHECK(p.scalar_type() == *only_dtype);
    n += p.numel() * p.element_size();
  }
  return n;
}

// Largest and mean per-channel difference of two images of the same size.
std::pair<int, double> pixel_diff(const Image& a, const Image& b) {
  REQUIRE(a.pixels.size() == b.pixels.size());
  int max = 0;
  double sum = 0;
  for (size_t p = 0; p < a.pixels.size(); ++p) {
    const int d = std::abs(int(a.pixels[p]) - int(b.pixels[p]));
    max = std::max(max, d);
    sum += d;
  }
  return {max, sum / static_cast<double>(a.pixels.size())};
}

}  // namespace

TEST_CASE("fp16-stored weights on the CPU: fp16 in memory, fp32 compute, the seeded image within tolerance", "[pipeline]") {
  const std::string folder = test::fixture("pipelines/tiny-sd15");
  ModelLoadOptions o;
  o.dtype = at::kHalf;
  auto half = load_diffusers_model(folder, o);
  auto full = load_diffusers_model(folder, ModelLoadOptions{});
  CHECK(half->activation_dtype() == at::kFloat);
  at::ScalarType fp16 = at::kHalf;
  CHECK(2 * param_bytes(*half->unet, &fp16) == param_bytes(*full->unet));
  CHECK(2 * param_bytes(*half->text_encoder, &fp16) == param_bytes(*full->text_encoder));

  const nlohmann::json cases = test::read_json(test::fixture("seeded/cases.json"));
  nlohmann::json c;
  for (const auto& k : cases["cases"])
    if (k["id"] == "sd15_default") c = k;
  REQUIRE(!c.is_null());
  GenerationRequest req;  // a txt2img case with the folder's own scheduler (PNDM)
  req.prompt = c["prompt"];
  req.negative_prompt = c["negative_prompt"].get<std::string>();
  req.width = c["width"];
  req.height = c["height"];
  req.steps = c["steps"];
  req.guidance = c["guidance"].get<double>();
  req.seed = c["seed"].get<uint64_t>();
  const Image expected = load_image(test::fixture("seeded/" + c["expected"][0]["png"].get<std::string>()));
  const Image got = generate(*half, req).images.at(0);
  const Image ours32 = generate(*full, req).images.at(0);
  const auto [diff, mean] = pixel_diff(got, expected);
  const auto [diff32, mean32] = pixel_diff(ours32, expected);
  std::cout << "fp16-stored vs diffusers fp32: max pixel diff " << diff << ", mean " << mean << "; our fp32: max "
            << diff32 << ", mean " << mean32 << "\n";
  CHECK(diff32 <= 1);
  CHECK(diff <= kMaxPixelDiff);
  CHECK(mean <= kMaxMeanDiff);
  CHECK(mean > 0);  // the weights really were rounded: not the fp32 path under another name
  // Still fp16 after running (nothing widened or packed in place of the stored weights).
  param_bytes(*half->unet, &fp16);
  CHECK(nn::packed_layer_count(*half->unet) == 0);
}
