// SDXL img2img and inpainting against diffusers' StableDiffusionXLImg2ImgPipeline and
// StableDiffusionXLInpaintPipeline: every case of tests/fixtures/sdxl_modes/cases.json (tiny-sdxl
// with its 4-channel UNet: img2img and mask blending; tiny-sdxl-inpaint: the 9-channel UNet),
//  1. stage by stage from the seed: the first UNet call's conditioning (both encoders' states,
//     pooled embeddings, time ids), the timesteps run, the 9-channel UNet's first input, the
//     latents after every step, the final latents and the decoded float image;
//  2. through generate() from the seed alone: diffusers' 8-bit pixels.
// Tolerances (sdxl_modes/precision.json: a float64 re-run moves step latents by up to 9.7e-5 at
// |x| ~ 54, images by 2.4e-6, at most one 8-bit value by 1): conditioning 1e-5, step latents
// max(1e-4, 1e-5 x their largest value), float image 1e-4, 8-bit pixels 1.
#include <catch.hpp>

#include <iostream>
#include <map>

#include "model/image/image_io.h"
#include "model/loading/diffusers_folder.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/stages.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kEmbedTol = 1e-5;
constexpr double kImageTol = 1e-4;

double latent_tol(double ref_max_abs) { return std::max(1e-4, 1e-5 * ref_max_abs); }

nlohmann::json cases() { return test::read_json(test::fixture("sdxl_modes/cases.json"))["cases"]; }

std::shared_ptr<SdModel> model_for(const std::string& pipeline) {
  static std::map<std::string, std::shared_ptr<SdModel>> models;
  auto& m = models[pipeline];
  if (!m) m = load_diffusers_model(test::fixture("pipelines/" + pipeline), ModelLoadOptions{});
  return m;
}

// Case 1: the stages one by one, compared with the debug tensors diffusers recorded.
void run_stages(const nlohmann::json& c) {
  const std::string id = c["id"];
  INFO(id);
  auto model = model_for(c["pipeline"]);
  auto debug = SafetensorsFile::open(test::fixture("sdxl_modes/" + c["debug"].get<std::string>()));
  const ResolvedRequest r = resolve_request(*model, test::seeded_request(c, "sdxl_modes"));
  CHECK(r.request.height == c["output_hw"][0].get<int>());
  CHECK(r.request.width == c["output_hw"][1].get<int>());
  CHECK(*r.request.strength == c["strength_effective"].get<double>());

  const PromptEmbeddings prompt = encode_prompt(*model, r);
  CHECK(prompt.cfg == c["cfg"].get<bool>());
  auto d = test::compare(prompt.context, debug.get("unet_in_encoder_hidden_states"));
  std::cout << test::describe(id + " encoder_hidden_states", d) << "\n";
  CHECK(d.max_abs < kEmbedTol);
  CHECK(test::compare(prompt.added.text_embeds, debug.get("unet_in_text_embeds")).max_abs < kEmbedTol);
  CHECK(test::compare(prompt.added.time_ids, debug.get("unet_in_time_ids")).max_abs == 0);

  if (debug.contains("pre_image")) {
    // The 80x80 inputs resized to 64x64 (Pillow's Lanczos in diffusers' VaeImageProcessor): our
    // processed image and binarised mask are diffusers' exactly.
    CHECK(at::equal(image_to_tensor(r.request.init_image), debug.get("pre_image")));
    CHECK(at::equal(mask_to_tensor(r.request.mask_image), debug.get("pre_mask")));
  }
  DenoiseState s = prepare_denoise(*model, r, prompt);
  const auto expected_t = c["timesteps_run"].get<std::vector<double>>();
  REQUIRE(s.total() == static_cast<int64_t>(expected_t.size()));
  for (size_t i = 0; i < expected_t.size(); ++i) CHECK(s.timesteps[i].item<double>() == expected_t[i]);
  CHECK(s.inpaint9 == (c["pipeline_config"]["unet_in_channels"].get<int>() == 9));
  if (s.inpaint9) {
    // The first UNet input: scaled latents, mask, masked-image latents (first CFG half).
    const double t0 = s.timesteps[0].item<double>();
    at::Tensor x = at::cat({s.scheduler->scale_model_input(s.latents, t0), s.mask, s.masked_image_latents}, 1);
    const at::Tensor ref = debug.get("unet_in_sample");
    d = test::compare(x, ref.slice(0, 0, x.size(0)));
    std::cout << test::describe(id + " 9-channel unet input", d) << "\n";
    CHECK(d.max_abs < latent_tol(d.ref_max_abs));
  }
  const at::Tensor steps = debug.get("step_latents");
  REQUIRE(steps.size(0) == s.total());
  double worst = 0;
  for (int64_t i = 0; i < s.total(); ++i) {
    denoise_step(*model, s);
    d = test::compare(s.latents, steps[i]);
    worst = std::max(worst, d.max_abs);
    INFO("step " << i << ": " << test::describe("latents", d));
    CHECK(d.max_abs < latent_tol(d.ref_max_abs));
  }
  d = test::compare(s.latents, debug.get("final_latents"));
  std::cout << id << ": worst step latent error " << worst << ", " << test::describe("final latents", d) << "\n";
  CHECK(d.max_abs < latent_tol(d.ref_max_abs));
  const at::Tensor images = decode_latents(*model, s.latents);  // [N, H, W, 3]
  for (size_t k = 0; k < c["expected"].size(); ++k) {
    const at::Tensor ref = SafetensorsFile::open(test::fixture("sdxl_modes/" + c["expected"][k]["float"].get<std::string>())).get("image");
    d = test::compare(images[k], ref);
    std::cout << test::describe(id + " image " + std::to_string(k), d) << "\n";
    CHECK(d.max_abs < kImageTol);
  }
}

// Case 2: generate() from the seed; the 8-bit images against diffusers' PNGs.
void run_generate(const nlohmann::json& c) {
  const std::string id = c["id"];
  INFO(id);
  auto model = model_for(c["pipeline"]);
  const GenerationResult result = generate(*model, test::seeded_request(c, "sdxl_modes"));
  CHECK(result.unet_calls == c["unet_calls"].get<int>());
  CHECK(result.scheduler == c["scheduler_class"].get<std::string>());
  REQUIRE(result.images.size() == c["expected"].size());
  for (size_t k = 0; k < result.images.size(); ++k) {
    const Image expected = load_image(test::fixture("sdxl_modes/" + c["expected"][k]["png"].get<std::string>()));
    const int diff = test::max_pixel_diff(result.images[k], expected);
    std::cout << id << "[" << k << "] generate(): max pixel diff " << diff << "\n";
    CHECK(diff <= 1);
  }
}

void run_mode(const std::string& mode, bool stages) {
  int n = 0;
  for (const auto& c : cases()) {
    if (c["mode"] != mode) continue;
    stages ? run_stages(c) : run_generate(c);
    ++n;
  }
  CHECK(n >= 4);
}

}  // namespace

TEST_CASE("SDXL img2img matches diffusers stage by stage (strengths 0.3/0.6, negatives, schedulers)", "[parity][sdxl]") {
  run_mode("xl_img2img", true);
}

TEST_CASE("SDXL img2img from the seed gives diffusers' pixels", "[parity][sdxl][seeded]") { run_mode("xl_img2img", false); }

TEST_CASE("SDXL inpainting (4- and 9-channel UNets) matches diffusers stage by stage", "[parity][sdxl]") {
  run_mode("xl_inpaint", true);
}

TEST_CASE("SDXL inpainting from the seed gives diffusers' pixels", "[parity][sdxl][seeded]") { run_mode("xl_inpaint", false); }

TEST_CASE("SDXL default strengths are diffusers' (img2img 0.3, inpaint 0.9999); SD keeps 0.8", "[sdxl]") {
  GenerationRequest req;
  req.prompt = "x";
  req.steps = 10;
  req.mode = GenerationMode::img2img;
  req.init_image = load_image(test::fixture("sdxl_modes/init_64x64.png"));
  CHECK(*resolve_request(*model_for("tiny-sdxl"), req).request.strength == 0.3);
  CHECK(*resolve_request(*model_for("tiny-sd15"), req).request.strength == 0.8);
  // The infotext of a request that named no strength records the one in effect.
  const GenerationResult result = generate(*model_for("tiny-sdxl"), req);
  CHECK(result.unet_calls == 3);
  CHECK_THAT(result.parameters_text("tiny-sdxl", req), Catch::Matchers::Contains("Denoising strength: 0.3"));
  req.mode = GenerationMode::inpaint;
  req.mask_image = load_image(test::fixture("sdxl_modes/mask_64x64.png"));
  CHECK(*resolve_request(*model_for("tiny-sdxl-inpaint"), req).request.strength == 0.9999);
  req.strength = 0.5;
  CHECK(*resolve_request(*model_for("tiny-sdxl-inpaint"), req).request.strength == 0.5);
}
