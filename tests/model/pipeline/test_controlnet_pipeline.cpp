// StableDiffusionControlNetPipeline parity (tests/fixtures/controlnet/cases.json, README L): every
// case from its seed on tiny-sd15 + the tiny ControlNet, through the same stages `generate` and
// the actors run (resolve_request, encode_prompt, prepare_denoise, denoise_step, decode): PNDM,
// Euler, Euler a and DPM++ 2M Karras; scale 1.0 and 0.5; guidance windows (end 0.5 over 4 and 5
// UNet calls, start 0.2 / end 0.8); no CFG; two images; a 96x72 control image resized to 64x48.
// Tolerances: 8-bit pixels max difference 1 (measured 0), float image 2e-5, final latents 3e-4
// absolute (the fixtures' float64 re-runs differ from float32 by up to 6.0e-5 on latents up to
// 58.5; the CPU's Winograd 3x3 convolutions, nn/winograd_conv.h, add their transforms' rounding:
// Euler a over 20 steps measured 2.3e-4 with them, 1.3e-4 without, 4e-6 of the largest latent),
// the resized control image 1e-6.
// Then MultiControlNet arithmetic (two nets at 0.5 = one at 1.0; two windows that tile [0, 1] =
// one over [0, 1], both bit for bit), scale 0 = no ControlNet, the keep formula against the cases'
// controlnet_keep, the refusals made before any step, and ControlNet + LoRA in one job.
#include <catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "model/image/image_io.h"
#include "model/pipeline/controlnet_stage.h"
#include "model/lora/lora_use.h"
#include "model/nn/packed_layer.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/stages.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;

namespace {

std::string cn_fixture(const std::string& name) { return test::fixture("controlnet/" + name); }

GenerationRequest case_request(const nlohmann::json& c) {
  GenerationRequest req;
  req.prompt = c["prompt"];
  req.negative_prompt = c["negative_prompt"].get<std::string>();
  req.width = c["width"];
  req.height = c["height"];
  req.steps = c["steps"];
  req.guidance = c["guidance"].get<double>();
  req.seed = c["seed"].get<uint64_t>();
  if (!c["scheduler"].is_null()) req.scheduler = c["scheduler"];
  req.num_images = c["num_images"];
  req.guess_mode = c["guess_mode"];
  ControlNetUse use;
  use.path = cn_fixture(c["controlnet"].get<std::string>());
  use.image = load_image(cn_fixture(c["control_image"].get<std::string>()));
  use.scale = c["controlnet_conditioning_scale"];
  use.start = c["control_guidance_start"];
  use.end = c["control_guidance_end"];
  req.controlnets.push_back(use);
  return req;
}

struct Run {
  at::Tensor latents, image;  // final latents [N, 4, h, w], decoded [N, H, W, 3]
  std::vector<Image> images;
  at::Tensor control;  // the first net's control tensor as prepared
  int unet_calls = 0;
};

Run run(SdModel& model, const GenerationRequest& request) {
  const ResolvedRequest r = resolve_request(model, request);
  Run out;
  DenoiseState s = prepare_denoise(model, r, encode_prompt(model, r));
  if (!s.control.empty()) out.control = s.control.units[0].image;
  while (!s.done()) {
    denoise_step(model, s);
    ++out.unet_calls;
  }
  out.latents = s.latents;
  out.image = decode_latents(model, s.latents);
  out.images = to_images(out.image);
  return out;
}

std::shared_ptr<SdModel> tiny_sd15() {
  static auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  return model;
}

GenerationRequest default_case() {
  const auto cases = test::read_json(cn_fixture("cases.json"))["cases"];
  for (const auto& c : cases)
    if (c["id"] == "cn_default") return case_request(c);
  FAIL("no cn_default case");
  return {};
}

}  // namespace

TEST_CASE("every ControlNet case gives diffusers' image from its seed", "[controlnet][parity]") {
  auto model = tiny_sd15();
  const auto cases = test::read_json(cn_fixture("cases.json"))["cases"];
  REQUIRE(cases.size() == 8);
  for (const auto& c : cases) {
    const std::string id = c["id"];
    INFO(id);
    const Run r = run(*model, case_request(c));
    CHECK(r.unet_calls == c["unet_calls"].get<int>());
    const auto debug = SafetensorsFile::open(cn_fixture(c["debug"].get<std::string>()));
    const double latent_diff = (r.latents - debug.get("final_latents")).abs().max().item<double>();
    std::cout << "controlnet case " << id << ": final latents max |diff| " << latent_diff;
    CHECK(latent_diff < 3e-4);
    if (debug.contains("pre_control")) {
      const double control_diff = (r.control.slice(0, 0, 1) - debug.get("pre_control")).abs().max().item<double>();
      std::cout << ", control image max |diff| " << control_diff;
      CHECK(control_diff < 1e-6);
    }
    const auto& expected = c["expected"];
    REQUIRE(r.images.size() == expected.size());
    for (size_t k = 0; k < expected.size(); ++k) {
      const Image png = load_image(cn_fixture(expected[k]["png"].get<std::string>()));
      const int pixel_diff = test::max_pixel_diff(r.images[k], png);
      const at::Tensor ref = SafetensorsFile::open(cn_fixture(expected[k]["float"].get<std::string>())).get("image");
      const double float_diff = (r.image[static_cast<int64_t>(k)] - ref).abs().max().item<double>();
      std::cout << ", image " << k << " max pixel diff " << pixel_diff << ", float max |diff| " << float_diff;
      CHECK(pixel_diff <= 1);
      CHECK(float_diff < 2e-5);
    }
    std::cout << "\n";
  }
}

TEST_CASE("the guidance window follows diffusers' controlnet_keep over the UNet calls", "[controlnet]") {
  const auto cases = test::read_json(cn_fixture("cases.json"))["cases"];
  for (const auto& c : cases) {
    INFO(c["id"].get<std::string>());
    const auto keep = c["controlnet_keep"].get<std::vector<double>>();
    const int64_t total = static_cast<int64_t>(keep.size());
    REQUIRE(total == c["unet_calls"].get<int64_t>());
    for (int64_t i = 0; i < total; ++i)
      CHECK(control_keep(i, total, c["control_guidance_start"], c["control_guidance_end"]) == keep[i]);
  }
}

TEST_CASE("MultiControlNet sums the residuals of its nets; scale 0 is no ControlNet", "[controlnet]") {
  auto model = tiny_sd15();
  GenerationRequest one = default_case();
  one.steps = 2;  // self-consistency, not parity: fewer steps keep it quick
  one.scheduler = "euler";  // 2 UNet calls: the windows [0, 0.5] and [0.5, 1] take one each
  const Run base = run(*model, one);
  // Two nets at 0.5 give one at 1.0, bit for bit; one at 0.5 alone does not (a sum, not a mean).
  GenerationRequest two = one;
  two.controlnets[0].scale = 0.5;
  two.controlnets.push_back(two.controlnets[0]);
  CHECK(run(*model, two).images[0].pixels == base.images[0].pixels);
  two.controlnets.pop_back();
  CHECK(run(*model, two).images[0].pixels != base.images[0].pixels);
  // Two windows that tile [0, 1] give one over [0, 1].
  GenerationRequest tiles = one;
  tiles.controlnets[0].end = 0.5;
  tiles.controlnets.push_back(one.controlnets[0]);
  tiles.controlnets[1].start = 0.5;
  CHECK(run(*model, tiles).images[0].pixels == base.images[0].pixels);
  // At scale 0 the ControlNet still runs, and the image is plain txt2img's.
  GenerationRequest zero = one, plain = one;
  zero.controlnets[0].scale = 0;
  plain.controlnets.clear();
  CHECK(run(*model, zero).images[0].pixels == run(*model, plain).images[0].pixels);
}

TEST_CASE("guess mode: only the conditional batch gets the residuals", "[controlnet]") {
  auto model = tiny_sd15();
  GenerationRequest req = default_case();
  req.guess_mode = true;
  const ResolvedRequest r = resolve_request(*model, req);
  DenoiseState s = prepare_denoise(*model, r, encode_prompt(*model, r));
  REQUIRE(s.control.guess_mode);
  CHECK(s.control.units[0].image.size(0) == 1);  // not doubled for CFG
  at::Tensor x = at::randn({2, 4, 32, 32});
  UNetControlResiduals res = control_residuals(s.control, x, 500.0, s.prompt.context, true, 0, 5);
  for (const auto& d : res.down) {
    CHECK(d.size(0) == 2);
    CHECK(d[0].abs().max().item<double>() == 0.0);
    CHECK(d[1].abs().max().item<double>() > 0.0);
  }
}

TEST_CASE("ControlNet requests are refused before any step when they cannot run", "[controlnet]") {
  auto model = tiny_sd15();
  const GenerationRequest ok = default_case();
  auto refused = [&](GenerationRequest r, const std::string& needle) {
    try {
      resolve_request(*model, r);
      FAIL("accepted: " << needle);
    } catch (const RequestError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  GenerationRequest r = ok;
  r.controlnets[0].scale = 2.5;
  refused(r, "scale");
  r = ok;
  r.controlnets[0].start = 0.6;
  r.controlnets[0].end = 0.5;
  refused(r, "start and end");
  r = ok;
  r.controlnets[0].end = 1.5;
  refused(r, "start and end");
  r = ok;
  r.controlnets[0].image = Image{};
  refused(r, "no control image");
  r = ok;
  r.controlnets[0].path = test::fixture("pipelines/tiny-sd15/unet");
  refused(r, "ControlNetModel");
  r = ok;
  r.controlnets.assign(5, ok.controlnets[0]);
  refused(r, "at most 4");
  r = ok;
  r.controlnets.clear();
  r.guess_mode = true;
  refused(r, "guess_mode");
}

TEST_CASE("a ControlNet of another family is refused before its weights are read", "[controlnet]") {
  auto model = tiny_sd15();
  // The tiny ControlNet's config with one field changed, and no weights at all: the config alone
  // decides (an SD2/SDXL ControlNet differs in cross_attention_dim, an inpainting one in in_channels).
  const auto config = test::read_json(cn_fixture("tiny-controlnet-sd15/config.json"));
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("sdw_cn_family_" + std::to_string(::getpid()));
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"cross_attention_dim", 64}, {"in_channels", 9}, {"block_out_channels", {32, 32}}}) {
    INFO(key);
    std::filesystem::create_directories(dir);
    nlohmann::json changed = config;
    changed[key] = value;
    std::ofstream(dir / "config.json") << changed.dump();
    GenerationRequest r = default_case();
    r.controlnets[0].path = dir.string();
    try {
      resolve_request(*model, r);
      FAIL("accepted");
    } catch (const RequestError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find("another model family") != std::string::npos);
      CHECK(std::string(e.what()).find(key) != std::string::npos);
    }
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("ControlNet and LoRA together: both act, and neither leaks into the other", "[controlnet][lora]") {
  // No diffusers image of the pair exists; the LoRA fixture's sd15_A_kohya_s1 and cn_default share
  // prompt, size, steps, scheduler and seed, so each alone must still give diffusers' image after
  // the pair ran, and the pair must differ from both.
  auto model = tiny_sd15();
  const GenerationRequest control = default_case();
  GenerationRequest both = control;
  both.loras.push_back(LoraUse{test::fixture("lora/sd15_A.kohya.safetensors"), 1.0});
  GenerationRequest lora = both;
  lora.controlnets.clear();
  ControlNetModel net = model->controlnets->get(*model, control.controlnets[0].path);
  // The weight's values, packed or not (a packed layer's parameter is a meta placeholder).
  const auto mid_weight_sum = [&net] {
    return sdw::nn::PackedLayer::dense(net->controlnet_mid_block->weights()).sum().item<double>();
  };
  const double net_sum = mid_weight_sum();
  const Image cn_png = load_image(cn_fixture("cn_default.png"));
  const Image lora_png = load_image(test::fixture("lora/sd15_A_kohya_s1.png"));

  const Run pair = run(*model, both);
  const int vs_control = test::max_pixel_diff(pair.images[0], cn_png), vs_lora = test::max_pixel_diff(pair.images[0], lora_png);
  const int control_after = test::max_pixel_diff(run(*model, control).images[0], cn_png);
  const int lora_after = test::max_pixel_diff(run(*model, lora).images[0], lora_png);
  std::cout << "ControlNet + LoRA: max pixel diff vs ControlNet alone " << vs_control << ", vs LoRA alone " << vs_lora
            << "; afterwards ControlNet alone " << control_after << ", LoRA alone " << lora_after << "\n";
  CHECK(vs_control > 1);
  CHECK(vs_lora > 1);
  CHECK(control_after <= 1);
  CHECK(lora_after <= 1);
  CHECK(mid_weight_sum() == net_sum);  // LoRA fuses into the UNet only
}
