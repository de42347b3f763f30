// SDXL ControlNet (diffusers' ControlNetModel with addition_embed_type "text_time" in
// StableDiffusionXLControlNetPipeline) on tiny-sdxl with a tiny SDXL ControlNet built the way
// ControlNetModel.from_unet builds one (tests/tiny_controlnet_sdxl.h; no diffusers fixture exists),
// written as a diffusers folder and loaded through the real loader. What must hold:
// - with from_unet's all-zero zero convolutions the image is plain SDXL txt2img's, byte for byte;
// - the ControlNet's down residuals before the zero convolutions (identity 1x1 convs here, and a
//   zero conditioning embedding) are the UNet's own skip tensors for the same step inputs, computed
//   here from the UNet's modules with the same added_cond_kwargs (text_embeds, time_ids); without
//   them the ControlNet refuses to run;
// - scale 0.5 gives exactly half of the scale-1 residuals, and with non-zero convolutions the
//   control image changes the image;
// - an SD1.5 ControlNet on SDXL and an SDXL one on SD1.5 are refused before any step;
// - with denoising_end (a refiner hand-off's base) the guidance window counts the whole schedule,
//   as diffusers computes controlnet_keep before it applies denoising_end, and the refiner's part
//   runs without the ControlNet;
// - img2img and inpainting (StableDiffusionXLControlNet{Img2Img,Inpaint}Pipeline): the zero-conv
//   ControlNet leaves every SDXL img2img / inpainting fixture case at diffusers' PNG, the identity one
//   gets the 4-channel step input (also beside a 9-channel inpainting UNet) with the UNet's
//   conditioning, an acting one changes the image; denoising_start with a ControlNet is refused.
#include <catch.hpp>

#include <iostream>
#include <map>

#include "model/image/image_io.h"
#include "model/loading/diffusers_folder.h"
#include "model/pipeline/controlnet_stage.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/refiner.h"
#include "model/pipeline/stages.h"
#include "seeded_cases.h"
#include "test_util.h"
#include "tiny_controlnet_sdxl.h"
#include "tiny_refiner.h"

using namespace sdw;

namespace {

std::shared_ptr<SdModel> tiny_sdxl() {
  static auto model = load_diffusers_model(test::fixture("pipelines/tiny-sdxl"), ModelLoadOptions{});
  return model;
}

GenerationRequest sdxl_request(const std::string& controlnet = "", const std::string& control_image = "controlnet/control_64x64.png") {
  GenerationRequest req;
  req.prompt = "a photo of an astronaut riding a horse on mars";
  req.negative_prompt = "lowres, bad anatomy, blurry";
  req.width = req.height = 32;
  req.steps = 4;
  req.guidance = 5.0;
  req.seed = 7;
  req.scheduler = "euler";
  if (!controlnet.empty()) {
    ControlNetUse use;
    use.path = controlnet;
    use.image = load_image(test::fixture(control_image));
    req.controlnets.push_back(use);
  }
  return req;
}

struct Run {
  at::Tensor latents;
  Image image;
};

Run run(SdModel& model, const GenerationRequest& request) {
  const ResolvedRequest r = resolve_request(model, request);
  DenoiseState s = prepare_denoise(model, r, encode_prompt(model, r));
  while (!s.done()) denoise_step(model, s);
  return {s.latents, to_images(decode_latents(model, s.latents))[0]};
}

// The state before the first step, and the CFG-doubled, scaled UNet input of that step.
struct FirstStep {
  DenoiseState s;
  at::Tensor x;
  double t = 0;
};

FirstStep first_step(SdModel& model, const GenerationRequest& request) {
  const ResolvedRequest r = resolve_request(model, request);
  FirstStep f{prepare_denoise(model, r, encode_prompt(model, r)), {}, 0};
  REQUIRE(f.s.prompt.cfg);
  f.t = f.s.timesteps[0].item<double>();
  f.x = f.s.scheduler->scale_model_input(at::cat({f.s.latents, f.s.latents}, 0), f.t);  // [2, 4, 16, 16]
  return f;
}

// The UNet's encoder half (its skip tensors and the mid block's output) for one step's input, run
// here from its own modules.
struct EncoderHalf {
  std::vector<at::Tensor> skips;
  at::Tensor mid;
};

EncoderHalf unet_encoder_half(SdModel& model, const at::Tensor& x, double t, const at::Tensor& context,
                              const UNetAddedCond& added) {
  c10::InferenceMode guard;
  auto& unet = model.unet;
  const at::Tensor tt = at::scalar_tensor(t, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor emb = unet_time_embedding(unet->config(), unet->time_embedding, unet->add_embedding, x, tt, added);
  at::Tensor h = unet->conv_in->forward(x);
  EncoderHalf out;
  out.skips.push_back(h);
  for (auto& block : unet->down_) h = block->forward(h, emb, context, out.skips);
  out.mid = unet->mid_block->forward(h, emb, context);
  return out;
}

// The identity ControlNet's residuals against the encoder half: the largest difference relative to
// the values' size (down residuals and mid together), and that size.
std::pair<double, double> residuals_vs_skips(const UNetControlResiduals& res, const EncoderHalf& e) {
  REQUIRE(res.down.size() == e.skips.size());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < e.skips.size(); ++i) {
    REQUIRE(res.down[i].sizes() == e.skips[i].sizes());
    const auto d = test::compare(res.down[i], e.skips[i]);
    worst = std::max(worst, d.max_abs);
    scale = std::max(scale, d.ref_max_abs);
  }
  const auto dm = test::compare(res.mid, e.mid);
  return {std::max(worst, dm.max_abs) / std::max(1.0, std::max(scale, dm.ref_max_abs)), scale};
}

// For `request` (an identity ControlNet) on `model`: the first step's ControlNet residuals are
// `base`'s encoder half for that step's 4-channel input and conditioning. Returns the state.
DenoiseState identity_residuals_are_skips(SdModel& model, SdModel& base, const GenerationRequest& request,
                                          const std::string& what) {
  FirstStep f = first_step(model, request);
  REQUIRE(f.x.size(1) == 4);
  const UNetControlResiduals res =
      control_residuals(f.s.control, f.x, f.t, f.s.prompt.context, true, 0, f.s.total(), f.s.prompt.added);
  const auto [relative, scale] = residuals_vs_skips(res, unet_encoder_half(base, f.x, f.t, f.s.prompt.context, f.s.prompt.added));
  INFO(what << ": relative difference " << relative << ", values up to " << scale);
  CHECK(relative <= 1e-6);
  CHECK(scale > 0.1);
  return std::move(f.s);
}

void refused(SdModel& model, const GenerationRequest& r, const std::string& needle) {
  try {
    resolve_request(model, r);
    FAIL("accepted: " << needle);
  } catch (const RequestError& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("an SDXL ControlNet with from_unet's zero convolutions leaves SDXL txt2img unchanged", "[controlnet][sdxl]") {
  test::TempDir tmp;
  auto model = tiny_sdxl();
  test::TinySdxlControlNetOptions o;
  o.random_cond_out = true;  // the control image reaches the encoder half; only the zero convs are zero
  const std::string net = test::make_tiny_sdxl_controlnet(tmp, "cn-zero", o);
  const Run plain = run(*model, sdxl_request());
  const Run with = run(*model, sdxl_request(net));
  CHECK(at::equal(with.latents, plain.latents));
  CHECK(with.image.pixels == plain.image.pixels);
}

TEST_CASE("the SDXL ControlNet's encoder half gives the UNet's own skip tensors with the same added conditioning",
          "[controlnet][sdxl]") {
  test::TempDir tmp;
  auto model = tiny_sdxl();
  test::TinySdxlControlNetOptions o;
  o.zero_convs = "identity";  // residual i = skip i itself
  const std::string net = test::make_tiny_sdxl_controlnet(tmp, "cn-identity", o);
  FirstStep f = first_step(*model, sdxl_request(net));
  REQUIRE(f.s.prompt.added.text_embeds.defined());
  const UNetControlResiduals res =
      control_residuals(f.s.control, f.x, f.t, f.s.prompt.context, true, 0, f.s.total(), f.s.prompt.added);

  const EncoderHalf e = unet_encoder_half(*model, f.x, f.t, f.s.prompt.context, f.s.prompt.added);
  REQUIRE(e.skips.size() == 6);  // conv_in, 2 + downsampler, 2
  const auto [relative, scale] = residuals_vs_skips(res, e);
  std::cout << "SDXL ControlNet residuals vs the UNet's skips: max relative difference " << relative
            << " (values up to " << scale << ")\n";
  CHECK(relative <= 1e-6);
  CHECK(scale > 0.1);
  // The ControlNet's add_embedding needs the UNet's text_embeds and time ids.
  CHECK_THROWS(control_residuals(f.s.control, f.x, f.t, f.s.prompt.context, true, 0, f.s.total()));
  // Other time ids change the residuals of the first block already.
  UNetAddedCond other = f.s.prompt.added;
  other.time_ids = other.time_ids * 2;
  const UNetControlResiduals moved = control_residuals(f.s.control, f.x, f.t, f.s.prompt.context, true, 0, f.s.total(), other);
  CHECK(test::compare(moved.down[1], res.down[1]).max_abs > 1e-4);
}

// A tiny SDXL ControlNet whose zero convs and conditioning output are random, so it acts.
static std::string random_controlnet(const test::TempDir& tmp, const std::string& name) {
  test::TinySdxlControlNetOptions o;
  o.zero_convs = "random";
  o.random_cond_out = true;
  return test::make_tiny_sdxl_controlnet(tmp, name, o);
}

TEST_CASE("SDXL ControlNet scale 0.5 halves the residuals exactly; the control image changes the image",
          "[controlnet][sdxl]") {
  test::TempDir tmp;
  auto model = tiny_sdxl();
  const std::string net = random_controlnet(tmp, "cn-random");
  FirstStep f = first_step(*model, sdxl_request(net));
  const UNetControlResiduals one =
      control_residuals(f.s.control, f.x, f.t, f.s.prompt.context, true, 0, f.s.total(), f.s.prompt.added);
  f.s.control.units[0].scale = 0.5;
  const UNetControlResiduals half =
      control_residuals(f.s.control, f.x, f.t, f.s.prompt.context, true, 0, f.s.total(), f.s.prompt.added);
  REQUIRE(one.down.size() == half.down.size());
  for (size_t i = 0; i < one.down.size(); ++i) {
    CHECK(at::equal(half.down[i], one.down[i] * 0.5));
    CHECK(one.down[i].abs().max().item<double>() > 1e-3);
  }
  CHECK(at::equal(half.mid, one.mid * 0.5));

  const Run plain = run(*model, sdxl_request());
  const Run a = run(*model, sdxl_request(net));
  const Run b = run(*model, sdxl_request(net, "seeded/init_64x64.png"));
  const int vs_plain = test::max_pixel_diff(a.image, plain.image), a_vs_b = test::max_pixel_diff(a.image, b.image);
  std::cout << "SDXL ControlNet (random convs): max pixel diff vs plain SDXL " << vs_plain << ", between two control images "
            << a_vs_b << "\n";
  CHECK(vs_plain > 1);
  CHECK(a_vs_b > 1);
}

TEST_CASE("a ControlNet of the other family is refused on SDXL and on SD1.5 before any step", "[controlnet][sdxl]") {
  test::TempDir tmp;
  const std::string xl_net = test::make_tiny_sdxl_controlnet(tmp, "cn-xl");
  const std::string sd15_net = test::fixture("controlnet/tiny-controlnet-sd15");
  auto sdxl = tiny_sdxl();
  refused(*sdxl, sdxl_request(sd15_net), "another model family");
  auto sd15 = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  GenerationRequest r = sdxl_request(xl_net);
  r.width = r.height = 64;
  refused(*sd15, r, "another model family");
  // diffusers' SDXL ControlNet img2img pipeline has no denoising_start (a refiner's start).
  GenerationRequest i2i = sdxl_request(xl_net);
  i2i.mode = GenerationMode::img2img;
  i2i.init_image = load_image(test::fixture("seeded/init_64x64.png"));
  i2i.denoising_start = 0.5;
  refused(*sdxl, i2i, "not with denoising_start");
}

// diffusers' StableDiffusionXLControlNet{Img2Img,Inpaint}Pipeline: no diffusers fixture exists for
// them either, so by composition again, on every SDXL img2img and inpainting case of the fixtures
// (tiny-sdxl, and tiny-sdxl-inpaint's 9-channel UNet with the same 4-channel ControlNet).
TEST_CASE("SDXL img2img and inpainting with from_unet's zero-conv ControlNet give diffusers' seeded images",
          "[controlnet][sdxl][parity]") {
  test::TempDir tmp;
  test::TinySdxlControlNetOptions o;
  o.random_cond_out = true;
  const std::string net = test::make_tiny_sdxl_controlnet(tmp, "cn-zero-modes", o);
  std::map<std::string, std::shared_ptr<SdModel>> models;
  int n = 0;
  const nlohmann::json cases = test::read_json(test::fixture("sdxl_modes/cases.json"))["cases"];
  for (const auto& c : cases) {
    const std::string id = c["id"];
    INFO(id);
    auto& model = models[c["pipeline"]];
    if (!model) model = load_diffusers_model(test::fixture("pipelines/" + c["pipeline"].get<std::string>()), ModelLoadOptions{});
    GenerationRequest r = test::seeded_request(c, "sdxl_modes");
    ControlNetUse use;
    use.path = net;
    use.image = load_image(test::fixture("controlnet/control_64x64.png"));
    r.controlnets.push_back(use);
    const GenerationResult result = generate(*model, r);
    REQUIRE(result.images.size() == c["expected"].size());
    for (size_t k = 0; k < result.images.size(); ++k) {
      const Image expected = load_image(test::fixture("sdxl_modes/" + c["expected"][k]["png"].get<std::string>()));
      CHECK(test::max_pixel_diff(result.images[k], expected) <= 1);
    }
    ++n;
  }
  CHECK(n == 15);  // 8 img2img, 3 four-channel and 4 nine-channel inpainting cases
}

TEST_CASE("SDXL img2img and 9-channel inpainting hand the ControlNet the 4-channel latents and the UNet's conditioning",
          "[controlnet][sdxl]") {
  test::TempDir tmp;
  test::TinySdxlControlNetOptions o;
  o.zero_convs = "identity";
  const std::string net = test::make_tiny_sdxl_controlnet(tmp, "cn-identity-modes", o);
  auto base = tiny_sdxl();
  // img2img at strength 0.6: the first step's input is the noised init image's latents at the
  // truncated schedule's first timestep; the identity ControlNet gives tiny-sdxl's own skips.
  GenerationRequest i2i = sdxl_request(net);
  i2i.mode = GenerationMode::img2img;
  i2i.init_image = load_image(test::fixture("sdxl_modes/init_64x64.png"));
  i2i.strength = 0.6;
  CHECK(identity_residuals_are_skips(*base, *base, i2i, "img2img").total() == 2);  // 4 steps x 0.6

  // 9-channel inpainting: the ControlNet sees the scaled 4-channel latents (the UNet gets 9), so its
  // residuals are the 4-channel tiny-sdxl UNet's skips for them.
  auto inpaint9 = load_diffusers_model(test::fixture("pipelines/tiny-sdxl-inpaint"), ModelLoadOptions{});
  GenerationRequest inp = i2i;
  inp.mode = GenerationMode::inpaint;
  inp.mask_image = load_image(test::fixture("sdxl_modes/mask_64x64.png"));
  inp.strength = 0.75;
  CHECK(identity_residuals_are_skips(*inpaint9, *base, inp, "9-channel inpainting").inpaint9);
}

TEST_CASE("an acting SDXL ControlNet changes img2img and inpainting images", "[controlnet][sdxl]") {
  test::TempDir tmp;
  const std::string net = random_controlnet(tmp, "cn-random-modes");
  auto model = tiny_sdxl();
  for (const GenerationMode mode : {GenerationMode::img2img, GenerationMode::inpaint}) {
    GenerationRequest r = sdxl_request();
    r.mode = mode;
    r.init_image = load_image(test::fixture("sdxl_modes/init_64x64.png"));
    if (mode == GenerationMode::inpaint) r.mask_image = load_image(test::fixture("sdxl_modes/mask_64x64.png"));
    r.strength = 0.75;
    const Run plain = run(*model, r);
    GenerationRequest with = sdxl_request(net);
    with.mode = r.mode;
    with.init_image = r.init_image;
    with.mask_image = r.mask_image;
    with.strength = r.strength;
    const int diff = test::max_pixel_diff(run(*model, with).image, plain.image);
    INFO(mode_name(mode) << ": max pixel diff vs without the ControlNet " << diff);
    CHECK(diff > 1);
  }
}

TEST_CASE("with denoising_end the SDXL ControlNet's window counts the whole schedule; the refiner runs without it",
          "[controlnet][sdxl]") {
  test::TempDir tmp;
  auto model = tiny_sdxl();
  const std::string net = random_controlnet(tmp, "cn-window");
  auto with_end = [&](double control_end) {
    GenerationRequest r = sdxl_request(net);  // Euler, 4 steps: 4 UNet calls in the whole schedule
    r.denoising_end = 0.5;
    r.controlnets[0].end = control_end;
    const ResolvedRequest rr = resolve_request(*model, r);
    DenoiseState s = prepare_denoise(*model, rr, encode_prompt(*model, rr));
    REQUIRE(s.total() == 2);  // denoising_end keeps the first half
    while (!s.done()) denoise_step(*model, s);
    return s.latents;
  };
  // Over the 4 calls of the schedule, end 0.5 keeps calls 0 and 1 (= end 1), end 0.25 only call 0;
  // counted over the 2 calls that run, end 0.5 would drop call 1 (= end 0.25).
  const at::Tensor half = with_end(0.5), full = with_end(1.0), quarter = with_end(0.25);
  CHECK(at::equal(half, full));
  CHECK(!at::equal(half, quarter));

  auto refiner = load_diffusers_model(test::make_tiny_refiner(tmp), ModelLoadOptions{});
  const HandoffRequests h = resolve_handoff(*model, *refiner, sdxl_request(net), 0.5, RequestLimits{});
  CHECK(h.base.request.controlnets.size() == 1);
  CHECK(h.refiner.request.controlnets.empty());
}
