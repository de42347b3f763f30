// ControlNet with img2img and inpainting (diffusers' StableDiffusionControlNetImg2ImgPipeline and
// StableDiffusionControlNetInpaintPipeline). No diffusers fixtures exist for these modes, so each
// is checked by composition: at conditioning scale 0 the job gives plain img2img's / inpaint's
// image byte for byte (the sd15_img2img, inpaint_legacy and inpaint9 seeded cases, themselves at
// parity with diffusers), and at scale 1 it differs from it and equals a reference loop written
// here from the components (VAE, scheduler, ControlNetModel, UNet) as those pipelines' __call__
// reads: the VAE posterior draws and the noise in their order, the guidance window over
// len(timesteps) of the strength-truncated schedule, the ControlNet fed the 4-channel scaled latents
// (a 9-channel UNet's mask and masked-image channels are added after it), and the 4-channel UNet's
// blend with the re-noised image latents. Only the prompt encoding and the scheduler's own
// img2img_timesteps (both at parity elsewhere) are shared with the pipeline. Hires fix's second
// pass (an img2img at the target size) prepares the control image as sent at its own size.
#include <catch.hpp>

#include <c10/core/InferenceMode.h>

#include <iostream>

#include "model/image/image_io.h"
#include "model/image/pil_resize.h"
#include "model/pipeline/controlnet_stage.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/hires_fix.h"
#include "model/pipeline/rng.h"
#include "model/pipeline/stages.h"
#include "model/preprocess/canny.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;

namespace {

std::shared_ptr<SdModel> tiny(const std::string& name) {
  static std::map<std::string, std::shared_ptr<SdModel>> models;
  auto& m = models[name];
  if (!m) m = load_diffusers_model(test::fixture("pipelines/" + name), ModelLoadOptions{});
  return m;
}

// The seeded case `id` (tests/fixtures/seeded/cases.json) as a request.
GenerationRequest seeded_request(const std::string& id) {
  const nlohmann::json cases = test::read_json(test::fixture("seeded/cases.json"));
  for (const auto& c : cases["cases"]) {
    if (c["id"] != id) continue;
    GenerationRequest r;
    r.mode = c["mode"] == "img2img" ? GenerationMode::img2img : GenerationMode::inpaint;
    r.prompt = c["prompt"];
    r.negative_prompt = c["negative_prompt"].get<std::string>();
    r.width = c["width"];
    r.height = c["height"];
    r.steps = c["steps"];
    r.guidance = c["guidance"].get<double>();
    r.seed = c["seed"].get<uint64_t>();
    r.strength = c["strength"].get<double>();
    if (!c["scheduler"].is_null()) r.scheduler = c["scheduler"];
    r.init_image = load_image(test::fixture("seeded/" + c["init_image"].get<std::string>()));
    if (!c["mask_image"].is_null()) r.mask_image = load_image(test::fixture("seeded/" + c["mask_image"].get<std::string>()));
    return r;
  }
  FAIL("no seeded case " << id);
  return {};
}

ControlNetUse tiny_controlnet(double scale, double start = 0.0, double end = 1.0) {
  ControlNetUse use;
  use.path = test::fixture("controlnet/tiny-controlnet-sd15");
  use.image = load_image(test::fixture("controlnet/control_64x64.png"));
  use.scale = scale;
  use.start = start;
  use.end = end;
  return use;
}

struct Run {
  at::Tensor latents;  // [1, 4, h, w]
  Image image;
};

Run run(SdModel& model, const GenerationRequest& request) {
  const ResolvedRequest r = resolve_request(model, request);
  DenoiseState s = prepare_denoise(model, r, encode_prompt(model, r));
  while (!s.done()) denoise_step(model, s);
  return {s.latents, to_images(decode_latents(model, s.latents)).at(0)};
}

// 8-bit RGB -> [1, 3, H, W] float in [0, 1].
at::Tensor unit_tensor(const Image& rgb) {
  REQUIRE(rgb.channels == 3);
  at::Tensor t = at::from_blob(const_cast<uint8_t*>(rgb.pixels.data()), {rgb.height, rgb.width, 3}, at::kByte).clone();
  return t.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat) / 255.0;
}

// diffusers' ControlNet img2img / inpaint __call__ from the components, for one image with CFG and
// one ControlNet whose control image is already the output size.
Run reference(SdModel& model, const GenerationRequest& request, const ControlNetUse& cn) {
  c10::InferenceMode guard;
  const ResolvedRequest r = resolve_request(model, [&] {
    GenerationRequest plain = request;
    plain.controlnets.clear();
    return plain;
  }());
  const at::Tensor context = encode_prompt(model, r).context;  // [2, 77, D]: uncond, cond
  auto scheduler = r.scheduler_name.empty() ? make_scheduler(model.scheduler_config)
                                            : make_scheduler(r.scheduler_name, model.scheduler_config);
  const at::Tensor timesteps = img2img_timesteps(*scheduler, r.request.steps, *r.request.strength).first;
  const int64_t total = timesteps.size(0);
  at::Generator gen = make_cpu_generator(r.seed);
  const double sf = model.vae->config().scaling_factor;
  const int64_t f = model.vae_scale_factor();
  const std::vector<int64_t> shape{1, 4, r.request.height / f, r.request.width / f};
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  auto encode = [&](const at::Tensor& image) {  // retrieve_latents(vae.encode(image), generator) * sf
    LatentDistribution d = model.vae->encode(image);
    return (d.mean + d.std * randn_like_diffusers(d.mean.sizes(), gen, opts)) * sf;
  };
  const at::Tensor image = unit_tensor(to_rgb(r.request.init_image)) * 2 - 1;  // [1, 3, H, W] in [-1, 1]
  const double t0 = timesteps[0].item<double>();
  const bool inpaint = r.request.mode == GenerationMode::inpaint, nine = model.is_inpainting_unet();
  at::Tensor latents, noise, image_latents, mask, masked_image_latents;
  if (!inpaint) {  // StableDiffusionImg2ImgPipeline.prepare_latents: encode, then the noise
    image_latents = encode(image);
    noise = randn_like_diffusers(shape, gen, opts);
    latents = scheduler->add_noise(image_latents, noise, t0);
  } else {  // StableDiffusionInpaintPipeline.prepare_latents, then prepare_mask_latents
    const bool strength_max = *r.request.strength == 1.0;
    if (!nine || !strength_max) image_latents = encode(image);
    noise = randn_like_diffusers(shape, gen, opts);
    latents = strength_max ? noise * scheduler->init_noise_sigma() : scheduler->add_noise(image_latents, noise, t0);
    Image gray = to_gray(r.request.mask_image);
    at::Tensor m = at::from_blob(gray.pixels.data(), {1, 1, gray.height, gray.width}, at::kByte).to(at::kFloat) / 255.0;
    m = (m >= 0.5).to(at::kFloat);                                           // [1, 1, H, W] binarised
    masked_image_latents = encode(image * (m < 0.5));                         // drawn for 4 channels too
    mask = at::upsample_nearest2d(m, {shape[2], shape[3]});                   // [1, 1, h, w]
  }
  ControlNetModel net = model.controlnets->get(model, cn.path);
  const at::Tensor cond = at::cat({unit_tensor(to_rgb(cn.image)), unit_tensor(to_rgb(cn.image))}, 0);  // [2, 3, H, W]
  for (int64_t i = 0; i < total; ++i) {
    const double t = timesteps[i].item<double>();
    const at::Tensor tt = at::scalar_tensor(t, at::TensorOptions().dtype(at::kDouble));
    at::Tensor x = scheduler->scale_model_input(at::cat({latents, latents}, 0), t);  // [2, 4, h, w]
    const double n = static_cast<double>(total);
    const double keep = (i / n < cn.start || (i + 1) / n > cn.end) ? 0.0 : 1.0;  // over len(timesteps)
    UNetControlResiduals res = net->forward(x, tt, context, cond, cn.scale * keep);
    if (nine) x = at::cat({x, at::cat({mask, mask}, 0), at::cat({masked_image_latents, masked_image_latents}, 0)}, 1);
    at::Tensor pred = model.unet->forward(x, tt, context, {}, res);
    auto parts = pred.chunk(2, 0);
    pred = parts[0] + *r.request.guidance * (parts[1] - parts[0]);
    latents = scheduler->step(pred, t, latents, gen).prev_sample;
    if (inpaint && !nine) {
      at::Tensor proper = i + 1 < total ? scheduler->add_noise(image_latents, noise, timesteps[i + 1].item<double>()) : image_latents;
      latents = (1 - mask) * proper + mask * latents;
    }
  }
  return {latents, to_images(decode_latents(model, latents)).at(0)};
}

// (a) scale 0 = the plain job, byte for byte; (b) scale 1 (full window, and a window that counts
// the truncated schedule) differs from it and equals the reference loop.
void check_composition(const std::string& pipeline, const std::string& case_id) {
  auto model = tiny(pipeline);
  const GenerationRequest plain = seeded_request(case_id);
  const Run base = run(*model, plain);
  // The plain job is the seeded case's diffusers image (so what follows composes onto parity).
  CHECK(test::max_pixel_diff(base.image, load_image(test::fixture("seeded/" + case_id + ".png"))) <= 1);

  GenerationRequest zero = plain;
  zero.controlnets.push_back(tiny_controlnet(0.0));
  const Run at_zero = run(*model, zero);
  CHECK(at_zero.image.pixels == base.image.pixels);
  CHECK(at::equal(at_zero.latents, base.latents));

  // end 0.6: over the truncated schedule's UNet calls the third call is outside the window; over
  // `steps` it would be inside, so the reference and the pipeline must count the same calls.
  std::vector<at::Tensor> finals;
  for (const ControlNetUse& cn : {tiny_controlnet(1.0), tiny_controlnet(1.0, 0.0, 0.6)}) {
    INFO(case_id << " end " << cn.end);
    GenerationRequest with = plain;
    with.controlnets.push_back(cn);
    const Run job = run(*model, with);
    const Run ref = reference(*model, with, cn);
    const double vs_ref = (job.latents - ref.latents).abs().max().item<double>();
    const double vs_plain = (job.latents - base.latents).abs().max().item<double>();
    std::cout << pipeline << " " << case_id << " ControlNet end " << cn.end << ": final latents max |diff| vs the reference loop "
              << vs_ref << ", vs plain " << vs_plain << ", pixel diff vs reference " << test::max_pixel_diff(job.image, ref.image)
              << ", vs plain " << test::max_pixel_diff(job.image, base.image) << "\n";
    CHECK(vs_ref <= 1e-6);
    CHECK(test::max_pixel_diff(job.image, ref.image) == 0);
    CHECK(vs_plain > 1e-2);
    CHECK(test::max_pixel_diff(job.image, base.image) > 1);
    finals.push_back(job.latents);
  }
  CHECK(!at::equal(finals[0], finals[1]));  // the window of end 0.6 left a call out
}

}  // namespace

TEST_CASE("img2img + ControlNet: scale 0 is plain img2img, scale 1 is diffusers' loop", "[controlnet][img2img]") {
  check_composition("tiny-sd15", "sd15_img2img");
}

TEST_CASE("inpaint (4-channel UNet) + ControlNet: scale 0 is plain inpaint, scale 1 is diffusers' loop",
          "[controlnet][inpaint]") {
  check_composition("tiny-sd15", "inpaint_legacy");
}

TEST_CASE("inpaint (9-channel UNet) + ControlNet: scale 0 is plain inpaint, scale 1 is diffusers' loop",
          "[controlnet][inpaint]") {
  check_composition("tiny-sd15-inpaint", "inpaint9");
}

TEST_CASE("img2img + ControlNet: the control image is resized to the init image's size", "[controlnet][img2img]") {
  // The output size defaults to the init image's (64x64), not the control image's (96x72), and the
  // control image is Lanczos-resized to it as in txt2img.
  auto model = tiny("tiny-sd15");
  GenerationRequest r = seeded_request("sd15_img2img");
  r.width = r.height = 0;
  ControlNetUse cn = tiny_controlnet(1.0);
  cn.image = load_image(test::fixture("controlnet/control_96x72.png"));
  r.controlnets.push_back(cn);
  const ResolvedRequest resolved = resolve_request(*model, r);
  CHECK(resolved.request.width == 64);
  CHECK(resolved.request.height == 64);
  CHECK(resolved.request.controlnets[0].image.width == 64);
  CHECK(resolved.request.controlnets[0].image.height == 64);
}

TEST_CASE("hires fix with a ControlNet: its second pass prepares the control image as sent at the target size",
          "[controlnet][hires]") {
  // sd-webui-controlnet's hires hint: the second pass resizes (and preprocesses) the control image
  // it was sent at its own size, not the first pass's resized copy.
  auto model = tiny("tiny-sd15");
  GenerationRequest r;
  r.prompt = "a red cube";
  r.width = r.height = 64;
  r.steps = 4;
  r.seed = 11;
  r.hires = HiresOptions{};
  r.hires->scale = 1.5;  // 96x96
  r.hires->strength = 0.5;
  ControlNetUse cn = tiny_controlnet(1.0);
  cn.image = load_image(test::fixture("controlnet/control_96x72.png"));
  const Image sent = to_rgb(cn.image);
  r.controlnets.push_back(cn);
  const HiresRequests hr = resolve_hires(*model, r);
  const Image& first = hr.first.request.controlnets.at(0).image;
  const Image& second = hr.second.request.controlnets.at(0).image;
  CHECK(first.pixels == resize_lanczos_pil(sent, 64, 64).pixels);
  REQUIRE((second.width == 96 && second.height == 96));
  CHECK(second.pixels == resize_lanczos_pil(sent, 96, 96).pixels);
  CHECK(second.pixels != resize_lanczos_pil(first, 96, 96).pixels);  // not the first pass's copy upscaled
  // A canny unit: the edge map of the sent image resized to each pass's size.
  GenerationRequest canny = r;
  canny.controlnets[0].preprocess = "canny";
  const HiresRequests hc = resolve_hires(*model, canny);
  CHECK(hc.first.request.controlnets[0].image.pixels == canny_edges(resize_lanczos_pil(sent, 64, 64), 100, 200).pixels);
  CHECK(hc.second.request.controlnets[0].image.pixels == canny_edges(resize_lanczos_pil(sent, 96, 96), 100, 200).pixels);

  // Scale 0: both passes are plain hires fix's, byte for byte; scale 1 changes the image.
  GenerationRequest plain = r;
  plain.controlnets.clear();
  const Image without = generate(*model, plain).images.at(0);
  GenerationRequest zero = r;
  zero.controlnets[0].scale = 0;
  CHECK(generate(*model, zero).images.at(0).pixels == without.pixels);
  const Image with = generate(*model, r).images.at(0);
  CHECK((with.width == 96 && with.height == 96));
  const int diff = test::max_pixel_diff(with, without);
  std::cout << "hires fix + ControlNet (scale 1): max pixel diff vs hires alone " << diff << "\n";
  CHECK(diff > 1);
}
