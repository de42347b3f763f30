// Full pipelines against diffusers:
//  1. the references of tests/fixtures/references (explicit initial latents, every step's latents,
//     final latents, decoded image) for txt2img (PNDM, DDIM v-prediction, SD-Turbo-like Euler),
//     img2img (generator-seeded posterior + noise draws) and 9-channel inpainting;
//  2. every seeded case of tests/fixtures/seeded/cases.json from the seed alone (no injected noise):
//     the float image and the 8-bit pixels diffusers produced.
// Tolerances: step latents 2e-5 absolute relative to their scale (measured worst 2.9e-6) (the fixtures' float64 re-run of
// tiny-sd15 txt2img differs from float32 by 1.7e-5 on latents of magnitude 17), images 2e-5;
// 8-bit pixels: max difference 1 (a float within 1e-4 of x.5 may round the other way).
#include <catch.hpp>

#include <iostream>

#include "model/image/image_io.h"
#include "model/loading/diffusers_folder.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/stages.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kLatentTol = 2e-5;
constexpr double kImageTol = 2e-5;

std::shared_ptr<SdModel> load(const std::string& pipeline) {
  return load_diffusers_model(test::fixture("pipelines/" + pipeline), ModelLoadOptions{});
}

at::Tensor nchw(const at::Tensor& nhwc) { return nhwc.permute({0, 3, 1, 2}); }

struct RefRun {
  std::string pipeline, group;
  GenerationMode mode = GenerationMode::txt2img;
  std::string negative = "lowres, bad anatomy, blurry";
  bool has_negative = true;
  double guidance = 7.5;
  int steps = 4;
  double strength = 1.0;
  uint64_t seed = 0;
  bool latents_given = true;
  std::string scheduler_config_file;  // replaces the folder's scheduler
};

Image tensor_to_image(const at::Tensor& t) {  // [1, C, H, W] in [0, 1] -> 8-bit
  at::Tensor u8 = (t[0].permute({1, 2, 0}) * 255).round().clamp(0, 255).to(at::kByte).contiguous();
  Image img;
  img.height = static_cast<int>(u8.size(0));
  img.width = static_cast<int>(u8.size(1));
  img.channels = static_cast<int>(u8.size(2));
  img.pixels.assign(u8.data_ptr<uint8_t>(), u8.data_ptr<uint8_t>() + u8.numel());
  return img;
}

void run_reference(const RefRun& run) {
  auto model = load(run.pipeline);
  if (!run.scheduler_config_file.empty()) model->scheduler_config = read_json_file(test::fixture(run.scheduler_config_file));
  auto ref = SafetensorsFile::open(test::fixture("references/" + run.pipeline + ".safetensors"));
  const std::string g = run.group + ".";
  GenerationRequest req;
  req.mode = run.mode;
  req.prompt = "a photo of an astronaut riding a horse on mars";
  if (run.has_negative) req.negative_prompt = run.negative;
  req.width = req.height = 32;
  req.steps = run.steps;
  req.guidance = run.guidance;
  req.seed = run.seed;
  req.strength = run.strength;
  PrepareOverrides overrides;
  if (run.mode != GenerationMode::txt2img) {
    // The reference images are float tensors in [0, 1] (the pipelines' `image=` argument), not
    // 8-bit: they are passed as tensors, as diffusers received them; the 8-bit Image only sets sizes.
    at::Tensor img = ref.get(g + (run.mode == GenerationMode::img2img ? "init_image" : "image"));
    // diffusers' VaeImageProcessor normalises a tensor to [-1, 1] unless it already has negative
    // values (the inpaint reference image is stored in [-1, 1], the img2img one in [0, 1]).
    const bool signed_range = img.min().item<float>() < 0;
    req.init_image = tensor_to_image(signed_range ? (img + 1) / 2 : img);
    overrides.image = signed_range ? img : img * 2 - 1;
    if (run.mode == GenerationMode::inpaint) {
      at::Tensor mask = ref.get(g + "mask_image");
      req.mask_image = tensor_to_image(mask);
      overrides.mask = (mask >= 0.5).to(at::kFloat);
    }
  }
  if (run.latents_given) overrides.latents = ref.get(g + "latents_in");
  ResolvedRequest r = resolve_request(*model, req);
  PromptEmbeddings prompt = encode_prompt(*model, r);
  auto d = test::compare(prompt.context, ref.get(g + "unet_encoder_hidden_states"));
  std::cout << test::describe(run.pipeline + " " + run.group + " encoder_hidden_states", d) << "\n";
  CHECK(d.max_abs < 1e-5);

  DenoiseState s = prepare_denoise(*model, r, prompt, overrides);
  if (s.inpaint9) {
    // What the 9-channel UNet sees besides the latents (CFG-duplicated in the reference).
    d = test::compare(s.mask, ref.get(g + "mask").slice(0, 0, 1));
    INFO(test::describe("inpaint mask", d));
    CHECK(d.max_abs == 0);
    d = test::compare(s.masked_image_latents, ref.get(g + "masked_image_latents").slice(0, 0, 1));
    std::cout << test::describe(run.pipeline + " masked_image_latents", d) << "\n";
    CHECK(d.max_abs < 1e-5);
  }
  d = test::compare(s.timesteps.to(at::kFloat), ref.get(g + "timesteps"));
  CHECK(d.max_abs == 0);
  at::Tensor steps = ref.get(g + "step_latents");
  REQUIRE(s.total() == steps.size(0));
  double worst = 0;
  for (int64_t i = 0; i < s.total(); ++i) {
    denoise_step(*model, s);
    d = test::compare(s.latents, steps[i]);
    worst = std::max(worst, d.max_abs / std::max(1.0, d.ref_max_abs));
    INFO(test::describe(run.group + " step " + std::to_string(i), d));
    CHECK(d.max_abs < kLatentTol * std::max(1.0, d.ref_max_abs));
  }
  std::cout << run.pipeline << " " << run.group << ": worst step latent error (relative to scale) " << worst << "\n";
  d = test::compare(s.latents, ref.get(g + "final_latents"));
  std::cout << test::describe(run.pipeline + " " + run.group + " final_latents", d) << "\n";
  at::Tensor image = nchw(decode_latents(*model, s.latents));
  d = test::compare(image, ref.get(g + "image_pt"));
  std::cout << test::describe(run.pipeline + " " + run.group + " image", d) << "\n";
  CHECK(d.max_abs < kImageTol);
}

// A short txt2img request on the prompt the determinism tests use.
GenerationRequest cube_request(int steps, uint64_t seed, const std::string& scheduler = "") {
  GenerationRequest req;
  req.prompt = "a red cube";
  req.steps = steps;
  req.seed = seed;
  req.scheduler = scheduler;
  return req;
}

}  // namespace

TEST_CASE("tiny-sd15 txt2img (PNDM, CFG 7.5) matches diffusers step by step", "[parity][pipeline]") {
  run_reference({"tiny-sd15", "txt2img"});
}

TEST_CASE("tiny-sd15 img2img (strength 0.75, seed 302) matches diffusers", "[parity][pipeline]") {
  RefRun r{"tiny-sd15", "img2img", GenerationMode::img2img};
  r.strength = 0.75;
  r.seed = 302;
  r.latents_given = false;
  run_reference(r);
}

TEST_CASE("tiny-sd21v txt2img (DDIM v-prediction) matches diffusers", "[parity][pipeline]") {
  run_reference({"tiny-sd21v", "txt2img"});
}

TEST_CASE("tiny-sd21v img2img matches diffusers", "[parity][pipeline]") {
  RefRun r{"tiny-sd21v", "img2img", GenerationMode::img2img};
  r.strength = 0.75;
  r.seed = 302;
  r.latents_given = false;
  run_reference(r);
}

TEST_CASE("tiny-sd21v SD-Turbo-like 1 step without CFG matches diffusers", "[parity][pipeline]") {
  RefRun r{"tiny-sd21v", "turbo1"};
  r.has_negative = false;
  r.guidance = 0.0;
  r.steps = 1;
  r.seed = 501;
  r.scheduler_config_file = "manifests/stabilityai--sd-turbo/scheduler/scheduler_config.json";
  run_reference(r);
}

TEST_CASE("tiny-sd15-inpaint 9-channel inpainting matches diffusers", "[parity][pipeline]") {
  RefRun r{"tiny-sd15-inpaint", "inpaint", GenerationMode::inpaint};
  r.strength = 1.0;
  r.seed = 402;
  run_reference(r);
}

TEST_CASE("every seeded case gives diffusers' image from the seed alone", "[parity][pipeline][seeded]") {
  const auto cases = test::read_json(test::fixture("seeded/cases.json"));
  std::map<std::string, std::shared_ptr<SdModel>> models;
  for (const auto& c : cases["cases"]) {
    const std::string id = c["id"];
    const std::string pipeline = c["pipeline"];
    if (!models.count(pipeline)) models[pipeline] = load(pipeline);
    const GenerationRequest req = test::seeded_request(c);
    GenerationResult result = generate(*models[pipeline], req);
    INFO(id);
    CHECK(result.unet_calls == c["unet_calls"].get<int>());
    CHECK(result.scheduler == c["scheduler_class"].get<std::string>());
    REQUIRE(result.images.size() == c["expected"].size());
    for (size_t k = 0; k < result.images.size(); ++k) {
      const auto& e = c["expected"][k];
      Image expected = load_image(test::fixture("seeded/" + e["png"].get<std::string>()));
      const Image& got = result.images[k];
      REQUIRE(got.width == expected.width);
      REQUIRE(got.height == expected.height);
      int max_diff = 0;
      for (size_t p = 0; p < got.pixels.size(); ++p)
        max_diff = std::max(max_diff, std::abs(int(got.pixels[p]) - int(expected.pixels[p])));
      // The float image before 8-bit conversion.
      at::Tensor ref_float = SafetensorsFile::open(test::fixture("seeded/" + e["float"].get<std::string>())).get("image");
      at::Tensor ours = at::from_blob(const_cast<uint8_t*>(got.pixels.data()), {got.height, got.width, 3}, at::kByte).to(at::kFloat);
      auto d = test::compare(ours / 255.0, ref_float);
      std::cout << id << "[" << k << "]: max pixel diff " << max_diff << ", " << test::describe("8-bit vs float", d) << "\n";
      CHECK(max_diff <= 1);
    }
  }
}

TEST_CASE("channels_last and the UNet runner give the same images as the plain NCHW path", "[pipeline]") {
  auto model = load("tiny-sd15");
  const GenerationRequest req = cube_request(4, 99);
  const GenerationResult plain = generate(*model, req);
  // On the CPU the runner is eager and reports why; one eager UNet call per step.
  const UNetRunnerStats s = model->unet_runner().stats();
  CHECK(s.mode == "eager (cpu)");
  CHECK(s.eager_calls == plain.unet_calls);
  CHECK(s.replays == 0);
  set_channels_last(*model, true);
  for (const auto& p : model->unet->parameters())
    if (p.dim() == 4) CHECK(p.is_contiguous(at::MemoryFormat::ChannelsLast));
  const GenerationResult nhwc = generate(*model, req);
  set_channels_last(*model, false);
  // Same arithmetic in another memory layout: float reductions may differ in the last bits.
  CHECK(test::max_pixel_diff(plain.images[0], nhwc.images[0]) <= 1);
  const GenerationResult back = generate(*model, req);
  CHECK(back.images[0].pixels == plain.images[0].pixels);
}

TEST_CASE("the same seed twice gives identical bytes; another seed does not", "[pipeline]") {
  auto model = load("tiny-sd15");
  GenerationRequest req = cube_request(3, 123, "euler_a");
  auto a = generate(*model, req);
  auto b = generate(*model, req);
  REQUIRE(a.images[0].pixels == b.images[0].pixels);
  REQUIRE(encode_png(a.images[0]) == encode_png(b.images[0]));
  req.seed = 124;
  auto c = generate(*model, req);
  REQUIRE(a.images[0].pixels != c.images[0].pixels);
}

TEST_CASE("eta reaches DDIM: 0 is the deterministic default, another eta draws noise, seeded", "[pipeline]") {
  auto model = load("tiny-sd15");
  GenerationRequest req = cube_request(3, 123, "ddim");
  const auto plain = generate(*model, req);
  req.eta = 0.0;
  CHECK(generate(*model, req).images[0].pixels == plain.images[0].pixels);
  req.eta = 1.0;
  const auto noisy = generate(*model, req);
  CHECK(noisy.images[0].pixels != plain.images[0].pixels);
  CHECK(generate(*model, req).images[0].pixels == noisy.images[0].pixels);
  req.scheduler = "euler";  // schedulers without eta ignore it
  const auto euler_eta = generate(*model, req);
  req.eta = 0.0;
  CHECK(generate(*model, req).images[0].pixels == euler_eta.images[0].pixels);
}

TEST_CASE("a request without seed gets one and reports it", "[pipeline]") {
  auto model = load("tiny-sd15");
  GenerationRequest req;
  req.prompt = "x";
  req.steps = 1;
  auto a = generate(*model, req);
  req.seed = a.seed;
  auto b = generate(*model, req);
  REQUIRE(a.images[0].pixels == b.images[0].pixels);
}

TEST_CASE("invalid requests are RequestErrors naming the field", "[pipeline]") {
  auto model = load("tiny-sd15");
  auto expect = [&](GenerationRequest req, const std::string& needle) {
    INFO(needle);
    try {
      resolve_request(*model, req);
      FAIL("accepted");
    } catch (const RequestError& e) {
      REQUIRE_THAT(e.what(), Catch::Matchers::Contains(needle));
    }
  };
  GenerationRequest ok;
  ok.prompt = "x";
  REQUIRE_NOTHROW(resolve_request(*model, ok));
  auto r = ok; r.prompt = ""; expect(r, "prompt");
  r = ok; r.steps = 151; expect(r, "steps");
  r = ok; r.steps = -1; expect(r, "steps");
  r = ok; r.guidance = 31; expect(r, "guidance");
  r = ok; r.guidance = std::nan(""); expect(r, "guidance");
  r = ok; r.width = 100; expect(r, "width");
  r = ok; r.height = 4096; expect(r, "height");
  r = ok; r.num_images = 0; expect(r, "num_images");
  r = ok; r.clip_skip = 9; expect(r, "clip_skip");
  r = ok; r.scheduler = "warp-drive"; expect(r, "scheduler");
  r = ok; r.eta = 1.5; expect(r, "eta");
  r = ok; r.eta = std::nan(""); expect(r, "eta");
  r = ok; r.mode = GenerationMode::img2img; expect(r, "init image");
  r.init_image = load_image(test::fixture("seeded/init_64x64.png"));
  r.strength = 0; expect(r, "strength");
  r.strength = 0.1; r.steps = 4; expect(r, "no denoising step");
  r = ok; r.mode = GenerationMode::inpaint; r.init_image = load_image(test::fixture("seeded/init_64x64.png")); expect(r, "mask");
}

TEST_CASE("cancellation stops between steps and progress is reported per step", "[pipeline]") {
  auto model = load("tiny-sd15");
  GenerationRequest req;
  req.prompt = "x";
  req.steps = 5;
  req.seed = 1;
  req.scheduler = "euler";
  std::vector<int> seen;
  GenerateHooks hooks;
  hooks.on_step = [&](int step, int total, const at::Tensor& latents) {
    seen.push_back(step);
    REQUIRE(total == 5);
    REQUIRE(latents.size(1) == 4);
  };
  hooks.cancelled = [&] { return seen.size() == 2; };
  REQUIRE_THROWS_AS(generate(*model, req, hooks), CancelledError);
  REQUIRE(seen == std::vector<int>{1, 2});
  hooks.cancelled = nullptr;
  seen.clear();
  generate(*model, req, hooks);
  REQUIRE(seen == std::vector<int>{1, 2, 3, 4, 5});
}
