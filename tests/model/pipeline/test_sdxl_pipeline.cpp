// SDXL txt2img against diffusers' StableDiffusionXLPipeline on the tiny-sdxl fixture
// (references/tiny-sdxl.*): encode_prompt (two encoders' penultimate hidden states, the projected
// pooled embeddings, zero negatives when there is no negative prompt), the time ids, every
// Euler step's latents from the given initial latents, the final latents and the decoded image.
// Tolerances as test_pipeline.cpp: embeddings 1e-5 absolute, step latents 2e-5 relative to their
// scale, image 2e-5.
#include <catch.hpp>

#include <iostream>

#include "model/loading/diffusers_folder.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/stages.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kEmbedTol = 1e-5;
constexpr double kLatentTol = 2e-5;
constexpr double kImageTol = 2e-5;
const char* kPrompt = "a photo of an astronaut riding a horse on mars";
const char* kNegative = "lowres, bad anatomy, blurry";

std::shared_ptr<SdModel> load_sdxl() {
  return load_diffusers_model(test::fixture("pipelines/tiny-sdxl"), ModelLoadOptions{});
}

SafetensorsFile reference() { return SafetensorsFile::open(test::fixture("references/tiny-sdxl.safetensors")); }

GenerationRequest request(bool with_negative, double guidance) {
  GenerationRequest req;
  req.prompt = kPrompt;
  if (with_negative) req.negative_prompt = kNegative;
  req.width = req.height = 32;
  req.steps = 4;
  req.guidance = guidance;
  req.seed = 0;
  return req;
}

void check_close(const std::string& what, const at::Tensor& actual, const at::Tensor& expected, double tol) {
  REQUIRE(actual.sizes() == expected.sizes());
  const auto d = test::compare(actual.to(at::kFloat), expected);
  std::cout << test::describe("tiny-sdxl " + what, d) << "\n";
  CHECK(d.max_abs < tol * std::max(1.0, d.ref_max_abs));
}

// The reference group `g` (txt2img, txt2img_noneg) replayed from its initial latents.
void run_group(const std::string& g, bool with_negative, double guidance) {
  auto model = load_sdxl();
  auto ref = reference();
  const ResolvedRequest r = resolve_request(*model, request(with_negative, guidance));
  const PromptEmbeddings prompt = encode_prompt(*model, r);
  REQUIRE(prompt.cfg);
  check_close(g + " encoder_hidden_states", prompt.context, ref.get(g + ".unet_encoder_hidden_states"), kEmbedTol);
  check_close(g + " added text_embeds", prompt.added.text_embeds, ref.get(g + ".unet_added_text_embeds"), kEmbedTol);
  CHECK(test::compare(prompt.added.time_ids.to(at::kFloat), ref.get(g + ".unet_added_time_ids")).max_abs == 0);

  PrepareOverrides overrides;
  overrides.latents = ref.get(g + ".latents_in");
  DenoiseState s = prepare_denoise(*model, r, prompt, overrides);
  CHECK(test::compare(s.timesteps.to(at::kFloat), ref.get(g + ".timesteps")).max_abs == 0);
  const at::Tensor steps = ref.get(g + ".step_latents");
  REQUIRE(s.total() == steps.size(0));
  for (int64_t i = 0; i < s.total(); ++i) {
    denoise_step(*model, s);
    check_close(g + " step " + std::to_string(i) + " latents", s.latents, steps[i], kLatentTol);
  }
  check_close(g + " final latents", s.latents, ref.get(g + ".final_latents"), kLatentTol);
  const at::Tensor image = decode_latents(*model, s.latents).permute({0, 3, 1, 2});  // [1, 3, H, W]
  check_close(g + " image", image, ref.get(g + ".image_pt"), kImageTol);
}

}  // namespace

TEST_CASE("tiny-sdxl loads as an SDXL txt2img pipeline with the catalog's defaults", "[parity][sdxl]") {
  auto model = load_sdxl();
  CHECK(model->is_sdxl());
  CHECK(model->pipeline_class == "StableDiffusionXLPipeline");
  REQUIRE(!model->text_encoder_2.is_empty());
  CHECK(model->text_encoder_2->config().with_projection);
  CHECK(model->tokenizer_2->pad_token() == "!");
  CHECK(model->force_zeros_for_empty_prompt);
  CHECK(model->default_guidance == 5.0);  // catalog "xl"
  CHECK(model->default_steps == 30);
  CHECK(model->default_width == model->unet->config().sample_size * model->vae_scale_factor());
}

TEST_CASE("SDXL encode_prompt matches diffusers' (prompt, negative, pooled)", "[parity][sdxl]") {
  auto model = load_sdxl();
  auto ref = reference();
  const PromptEmbeddings p = encode_prompt(*model, resolve_request(*model, request(true, 7.5)));
  REQUIRE(p.context.size(0) == 2);
  check_close("negative_prompt_embeds", p.context.slice(0, 0, 1), ref.get("encode_prompt.negative_prompt_embeds"), kEmbedTol);
  check_close("prompt_embeds", p.context.slice(0, 1, 2), ref.get("encode_prompt.prompt_embeds"), kEmbedTol);
  check_close("negative_pooled_prompt_embeds", p.added.text_embeds.slice(0, 0, 1),
              ref.get("encode_prompt.negative_pooled_prompt_embeds"), kEmbedTol);
  check_close("pooled_prompt_embeds", p.added.text_embeds.slice(0, 1, 2), ref.get("encode_prompt.pooled_prompt_embeds"),
              kEmbedTol);
}

TEST_CASE("tiny-sdxl txt2img (Euler, CFG 7.5, negative prompt) matches diffusers step by step", "[parity][sdxl]") {
  run_group("txt2img", /*with_negative=*/true, 7.5);
}

TEST_CASE("tiny-sdxl txt2img without a negative prompt uses zero negatives, as diffusers", "[parity][sdxl]") {
  run_group("txt2img_noneg", /*with_negative=*/false, 5.0);
}

TEST_CASE("SDXL: batches, no-CFG requests and the denoising_start / denoising_end checks", "[sdxl]") {
  auto model = load_sdxl();
  GenerationRequest req = request(true, 7.5);
  req.num_images = 2;
  const PromptEmbeddings p = encode_prompt(*model, resolve_request(*model, req));
  CHECK(p.context.sizes() == at::IntArrayRef({4, 77, model->unet->config().cross_attention_dim[0]}));
  CHECK(p.added.text_embeds.size(0) == 4);
  CHECK(p.added.time_ids.sizes() == at::IntArrayRef({4, 6}));
  req.guidance = 1.0;  // no CFG: only the prompt's rows
  const PromptEmbeddings single = encode_prompt(*model, resolve_request(*model, req));
  CHECK(!single.cfg);
  CHECK(single.context.size(0) == 2);
  CHECK(single.added.time_ids.size(0) == 2);
  // The whole pipeline runs (and gives two images of the asked size).
  req.steps = 2;
  const GenerationResult result = generate(*model, req);
  REQUIRE(result.images.size() == 2);
  CHECK(result.images[0].width == 32);
  CHECK(result.unet_calls == 2);

  GenerationRequest img2img = request(true, 7.5);
  img2img.mode = GenerationMode::img2img;
  img2img.init_image.width = img2img.init_image.height = 32;
  img2img.init_image.channels = 3;
  img2img.init_image.pixels.assign(32 * 32 * 3, 128);
  CHECK(*resolve_request(*model, img2img).request.strength == 0.3);  // SDXL img2img: test_sdxl_modes.cpp
  img2img.denoising_start = 1.5;
  CHECK_THROWS_WITH(resolve_request(*model, img2img), Catch::Contains("denoising_start must be between 0 and 1"));
  img2img.denoising_start = 0.8;
  img2img.denoising_end = 0.5;
  CHECK_THROWS_WITH(resolve_request(*model, img2img), Catch::Contains("must be below denoising_end"));
  req.denoising_start = 0.5;  // txt2img cannot start late
  CHECK_THROWS_WITH(resolve_request(*model, req), Catch::Contains("denoising_start needs img2img"));
}
