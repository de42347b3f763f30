// SD3 pipeline (StableDiffusion3Pipeline / StableDiffusion3Img2ImgPipeline of diffusers v0.30.3)
// through the ordinary stages: prompt embeddings against diffusers' encode_prompt (with T5,
// without, max_sequence_length 77), the 4-step txt2img and 3-step img2img references (latents,
// start latents, images), every seeded case of tests/fixtures/sd3/cases.json (PNG within 1 level,
// float image within 1e-4; README M.6: diffusers' own float64 re-run moves a pixel by at most 1),
// SD3's img2img start rule, and the requests SD3 refuses. Tolerances: components 1e-5 absolute,
// multi-step latents 1e-4 (README M.4).
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include <iostream>

#include "model/image/image_io.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/sd3_model.h"
#include "model/pipeline/sd3_stages.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;
using nlohmann::json;

namespace {

std::shared_ptr<SdModel> tiny(bool t5 = true) {
  static std::shared_ptr<SdModel> with_t5, without_t5;
  auto& m = t5 ? with_t5 : without_t5;
  if (!m) {
    ModelLoadOptions o;
    o.load_t5 = t5;
    m = load_diffusers_model(test::fixture("pipelines/tiny-sd3"), o);
  }
  return m;
}

void expect_close(const std::string& what, const at::Tensor& actual, const at::Tensor& expected, double tol) {
  auto d = test::compare(actual, expected);
  std::cout << test::describe("tiny-sd3 " + what, d) << "\n";
  CHECK(d.max_abs < tol);
}

ResolvedRequest request(SdModel& model, const std::string& prompt, const std::optional<std::string>& negative,
                        double guidance, int steps = 4, int size = 32) {
  GenerationRequest r;
  r.prompt = prompt;
  r.negative_prompt = negative;
  r.guidance = guidance;
  r.steps = steps;
  r.width = r.height = size;
  r.seed = 0;
  return resolve_request(model, r);
}


}  // namespace

TEST_CASE("SD3 prompt embeddings equal diffusers' encode_prompt (T5, no T5, max_sequence_length 77)", "[parity][sd3]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd3.safetensors"));
  SdModel& model = *tiny();
  const std::string prompt = "a photo of an astronaut riding a horse on mars", negative = "lowres, bad anatomy, blurry";
  ResolvedRequest req = request(model, prompt, negative, 7.0);
  PromptEmbeddings p = encode_prompt(model, req);
  REQUIRE(p.cfg);
  REQUIRE(p.context.sizes() == at::IntArrayRef({2, 333, 96}));
  expect_close("encode_prompt.negative_prompt_embeds", p.context[0], ref.get("encode_prompt.negative_prompt_embeds")[0], 1e-5);
  expect_close("encode_prompt.prompt_embeds", p.context[1], ref.get("encode_prompt.prompt_embeds")[0], 1e-5);
  expect_close("encode_prompt.negative_pooled", p.added.text_embeds[0], ref.get("encode_prompt.negative_pooled_prompt_embeds")[0], 1e-5);
  expect_close("encode_prompt.pooled", p.added.text_embeds[1], ref.get("encode_prompt.pooled_prompt_embeds")[0], 1e-5);

  // Without T5 (a request that leaves it out, and a model loaded without it): zeros [77, D].
  for (bool loaded : {true, false}) {
    SdModel& m = *tiny(loaded);
    ResolvedRequest r = request(m, prompt, negative, 7.0);
    r.request.t5 = !loaded;  // the model with T5 is asked to leave it out; the other has none
    PromptEmbeddings q = encode_prompt(m, r);
    REQUIRE(q.context.sizes() == at::IntArrayRef({2, 154, 96}));
    expect_close("encode_prompt_no_t5.negative_prompt_embeds", q.context[0], ref.get("encode_prompt_no_t5.negative_prompt_embeds")[0], 1e-5);
    expect_close("encode_prompt_no_t5.prompt_embeds", q.context[1], ref.get("encode_prompt_no_t5.prompt_embeds")[0], 1e-5);
    CHECK(q.context.slice(1, 77).abs().max().item<float>() == 0.0f);
  }

  const json meta = test::read_json(test::fixture("references/tiny-sd3.json"));
  ResolvedRequest r77 = request(model, meta["prompts"][2].get<std::string>(), negative, 7.0);
  r77.request.max_sequence_length = 77;
  PromptEmbeddings q = encode_prompt(model, r77);
  REQUIRE(q.context.sizes() == at::IntArrayRef({2, 154, 96}));
  expect_close("encode_prompt_maxseq77.negative_prompt_embeds", q.context[0], ref.get("encode_prompt_maxseq77.negative_prompt_embeds")[0], 1e-5);
  expect_close("encode_prompt_maxseq77.prompt_embeds", q.context[1], ref.get("encode_prompt_maxseq77.prompt_embeds")[0], 1e-5);
}

TEST_CASE("SD3 txt2img and img2img through the stages equal diffusers' references", "[parity][sd3]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd3.safetensors"));
  SdModel& model = *tiny();
  ResolvedRequest req = request(model, "a photo of an astronaut riding a horse on mars", "lowres, bad anatomy, blurry", 7.0);
  PrepareOverrides o;
  o.latents = ref.get("txt2img.latents_in");
  DenoiseState s = prepare_denoise(model, req, encode_prompt(model, req), o);
  CHECK(test::compare(s.timesteps, ref.get("txt2img.timesteps")).max_abs == 0);
  expect_close("txt2img.pooled_projections", s.prompt.added.text_embeds, ref.get("txt2img.pooled_projections"), 1e-5);
  while (!s.done()) {
    const int64_t i = s.step;
    denoise_step(model, s);
    expect_close("txt2img.step_latents[" + std::to_string(i) + "]", s.latents, ref.get("txt2img.step_latents")[i], 1e-4);
  }
  expect_close("txt2img.final_latents", s.latents, ref.get("txt2img.final_latents"), 1e-4);
  at::Tensor image = decode_latents(model, s.latents).permute({0, 3, 1, 2});  // [1, 3, 32, 32]
  expect_close("txt2img.image_pt", image, ref.get("txt2img.image_pt"), 1e-4);

  GenerationRequest g;
  g.mode = GenerationMode::img2img;
  g.prompt = "a photo of an astronaut riding a horse on mars";
  g.negative_prompt = "lowres, bad anatomy, blurry";
  g.guidance = 7.0;
  g.steps = 5;
  g.strength = 0.6;
  g.seed = 501;
  g.width = g.height = 32;
  g.init_image = Image{32, 32, 3, std::vector<uint8_t>(32 * 32 * 3, 0)};  // replaced by the reference tensor
  ResolvedRequest ri = resolve_request(model, g);
  PrepareOverrides oi;
  oi.image = ref.get("img2img.init_image");
  DenoiseState si = prepare_denoise(model, ri, encode_prompt(model, ri), oi);
  CHECK(test::compare(si.timesteps, ref.get("img2img.timesteps")).max_abs == 0);
  expect_close("img2img.start_latents", si.latents, ref.get("img2img.start_latents"), 1e-5);
  while (!si.done()) denoise_step(model, si);
  expect_close("img2img.final_latents", si.latents, ref.get("img2img.final_latents"), 1e-4);
  expect_close("img2img.image_pt", decode_latents(model, si.latents).permute({0, 3, 1, 2}), ref.get("img2img.image_pt"), 1e-4);
}

TEST_CASE("SD3 seeded cases: every image within one level of diffusers' PNG", "[parity][sd3][seeded]") {
  at::NoGradGuard no_grad;
  const json cases = test::read_json(test::fixture("sd3/cases.json"));
  REQUIRE(cases["cases"].size() == 12);
  for (const auto& c : cases["cases"]) {
    const std::string id = c["id"];
    INFO("case " << id);
    SdModel& model = *tiny(c["t5"].get<bool>());
    auto debug = SafetensorsFile::open(test::fixture("sd3/" + c["debug"].get<std::string>()));
    // The stages generate() runs, with the float image kept.
    ResolvedRequest req = resolve_request(model, test::seeded_sd3_request(c));
    PromptEmbeddings prompt = encode_prompt(model, req);
    CHECK(prompt.context.sizes().vec() == c["encoder_hidden_states_shape"].get<std::vector<int64_t>>());
    if (debug.contains("encoder_hidden_states"))
      CHECK(test::compare(prompt.context, debug.get("encoder_hidden_states")).max_abs < 1e-5);
    CHECK(test::compare(prompt.added.text_embeds, debug.get("pooled_projections")).max_abs < 1e-5);
    DenoiseState s = prepare_denoise(model, req, std::move(prompt));
    CHECK(s.total() == c["transformer_calls"].get<int64_t>());
    CHECK(s.scheduler->class_name() == "FlowMatchEulerDiscreteScheduler");
    while (!s.done()) denoise_step(model, s);
    const double latent_diff = test::compare(s.latents, debug.get("final_latents")).max_abs;
    at::Tensor images = decode_latents(model, s.latents);  // [N, H, W, 3]
    std::vector<Image> pngs = to_images(images);
    REQUIRE(pngs.size() == c["expected"].size());
    for (size_t k = 0; k < pngs.size(); ++k) {
      const json& e = c["expected"][k];
      const int diff = test::max_pixel_diff(pngs[k], load_image(test::fixture("sd3/" + e["png"].get<std::string>())));
      at::Tensor floats = SafetensorsFile::open(test::fixture("sd3/" + e["float"].get<std::string>())).get("image");  // [H, W, 3]
      const double float_diff = test::compare(images[static_cast<int64_t>(k)], floats).max_abs;
      std::cout << "sd3 seeded " << id << " image " << k << ": max pixel diff " << diff << ", float image max |diff| "
                << float_diff << ", final latents max |diff| " << latent_diff << "\n";
      CHECK(diff <= 1);
      CHECK(float_diff < 1e-4);
    }
    CHECK(latent_diff < 1e-4);
  }
  // generate() runs the same stages: one case through it gives the same pixels.
  const json& c = cases["cases"][0];
  GenerationResult result = generate(*tiny(), test::seeded_sd3_request(c));
  CHECK(result.unet_calls == c["transformer_calls"].get<int>());
  CHECK(result.scheduler == "FlowMatchEulerDiscreteScheduler");
  CHECK(test::max_pixel_diff(result.images[0], load_image(test::fixture("sd3/" + c["expected"][0]["png"].get<std::string>()))) <= 1);
}

TEST_CASE("SD3 img2img starts where StableDiffusion3Img2ImgPipeline.get_timesteps does", "[parity][sd3]") {
  const json meta = test::read_json(test::fixture("schedulers/flow_match_euler.json"));
  for (const auto& row : meta["img2img_get_timesteps"]["table"]) {
    INFO("N " << row["num_inference_steps"] << " strength " << row["strength"]);
    CHECK(sd3_img2img_start(row["num_inference_steps"].get<int>(), row["strength"].get<double>()) == row["t_start"].get<int64_t>());
  }
}

TEST_CASE("SD3 refuses what it does not do, with the field named", "[sd3]") {
  SdModel& model = *tiny();
  auto refused = [&](GenerationRequest r, const std::string& needle) {
    r.prompt = "a fox";
    try {
      resolve_request(model, r);
      FAIL("accepted: " << needle);
    } catch (const RequestError& e) {
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  GenerationRequest r;
  r.width = 42;  // the tiny model's VAE factor x patch size is 2 x 2 = 4 (SD3 Medium's 8 x 2 = 16)
  refused(r, "width");
  r = {};
  r.scheduler = "euler_a";
  refused(r, "scheduler");
  r.scheduler = "DPM++ 2M Karras";
  refused(r, "scheduler");
  r = {};
  r.max_sequence_length = 513;
  refused(r, "max_sequence_length");
  r = {};
  r.mode = GenerationMode::inpaint;
  refused(r, "inpainting");
  r = {};
  r.loras.push_back({"x.safetensors", 1.0});
  refused(r, "loras");
  r = {};
  // The model's own by its names, and A1111's "Euler" (on a flow model, this Euler): accepted.
  r.prompt = "a fox";
  for (const char* own : {"FlowMatchEulerDiscreteScheduler", "flow_match_euler", "Euler", "euler"}) {
    r.scheduler = own;
    CHECK(resolve_request(model, r).scheduler_name.empty());
  }
  CHECK(model.default_steps == 28);
  CHECK(model.default_guidance == 7.0);
  CHECK(model.default_width == 64);  // tiny transformer: sample_size 32 x VAE factor 2
}
