// Where inpainting's masked area starts (InpaintFill, A1111's "masked content"; stages.cpp's
// inpaint branch), on the tiny SD1.5 pipeline (4-channel UNet: diffusers' legacy inpainting, the
// masked area taken from the noised start and the rest blended back each step). Every fill noises
// its start with the same noise to the same first timestep, and add_noise is linear, so against
// "original" (the encoded image):
//   latent_nothing  masked area = original - sqrt(alpha_bar) * image latents;
//   latent_noise    masked area = latent_nothing + sqrt(alpha_bar) * noise;
//   fill            the image is painted before it is encoded: its latents move in the mask;
// and outside the mask every start is original's.
#include <catch.hpp>

#include "model/image/image_io.h"
#include "model/image/mask_fill.h"
#include "model/loading/diffusers_folder.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/stages.h"
#include "test_util.h"

using namespace sdw;

namespace {

GenerationRequest inpaint_request(InpaintFill fill, double strength) {
  GenerationRequest r;
  r.mode = GenerationMode::inpaint;
  r.prompt = "a red apple on a table";
  r.steps = 4;
  r.seed = 5;
  r.strength = strength;
  r.inpaint_fill = fill;
  r.init_image = load_image(test::fixture("seeded/init_64x64.png"));
  r.mask_image = load_image(test::fixture("seeded/mask_64x64.png"));
  return r;
}

DenoiseState prepared(SdModel& model, InpaintFill fill, double strength = 0.6) {
  const ResolvedRequest req = resolve_request(model, inpaint_request(fill, strength));
  return prepare_denoise(model, req, encode_prompt(model, req));
}

// sqrt(alpha_bar_t0) * x: the scheduler's add_noise of x with no noise at the first timestep.
at::Tensor scaled(const DenoiseState& s, const at::Tensor& x) {
  return s.scheduler->add_noise(x, at::zeros_like(x), s.timesteps[0].item<double>());
}

double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

}  // namespace

TEST_CASE("latent_nothing and latent_noise start the masked area from zeros and from the noise", "[pipeline][inpaint]") {
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  REQUIRE_FALSE(model->is_inpainting_unet());
  const DenoiseState original = prepared(*model, InpaintFill::original);
  const DenoiseState nothing = prepared(*model, InpaintFill::latent_nothing);
  const DenoiseState noise = prepared(*model, InpaintFill::latent_noise);
  const at::Tensor m = original.mask;  // [1, 1, h, w], 1 = repaint
  REQUIRE(m.sum().item<double>() > 0);
  REQUIRE((1 - m).sum().item<double>() > 0);
  // The same noise and image latents (the generator's draws are unchanged by the fill).
  CHECK(at::equal(original.noise, nothing.noise));
  CHECK(at::equal(original.image_latents, noise.image_latents));

  const at::Tensor image_part = scaled(original, original.image_latents);  // sqrt(ab) * x0
  const at::Tensor noise_part = scaled(original, original.noise);          // sqrt(ab) * noise
  REQUIRE(max_abs(image_part * m) > 0.05);
  CHECK(max_abs((nothing.latents - original.latents) * (1 - m)) == 0);
  CHECK(max_abs((noise.latents - original.latents) * (1 - m)) == 0);
  CHECK(max_abs((nothing.latents - (original.latents - image_part)) * m) < 1e-5);
  CHECK(max_abs((noise.latents - (nothing.latents + noise_part)) * m) < 1e-5);
}

TEST_CASE("fill paints the masked area of the image before it is encoded", "[pipeline][inpaint]") {
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  const DenoiseState original = prepared(*model, InpaintFill::original);
  const DenoiseState filled = prepared(*model, InpaintFill::fill);
  const at::Tensor m = original.mask;
  const double inside = ((filled.image_latents - original.image_latents).abs() * m).sum().item<double>() / m.sum().item<double>();
  const double outside =
      ((filled.image_latents - original.image_latents).abs() * (1 - m)).sum().item<double>() / (1 - m).sum().item<double>();
  INFO("mean latent change inside the mask " << inside << ", outside " << outside);
  CHECK(inside > 0.01);
  CHECK(inside > 3 * outside);

  // The whole job runs, and its image differs from original's.
  CHECK(generate(*model, inpaint_request(InpaintFill::original, 0.6)).images[0].pixels !=
        generate(*model, inpaint_request(InpaintFill::fill, 0.6)).images[0].pixels);
}

TEST_CASE("at strength 1 every fill starts from pure noise; other modes refuse a fill", "[pipeline][inpaint]") {
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  const DenoiseState original = prepared(*model, InpaintFill::original, 1.0);
  for (const InpaintFill f : {InpaintFill::latent_nothing, InpaintFill::latent_noise})
    CHECK(at::equal(prepared(*model, f, 1.0).latents, original.latents));

  GenerationRequest img2img = inpaint_request(InpaintFill::latent_noise, 0.6);
  img2img.mode = GenerationMode::img2img;
  CHECK_THROWS_WITH(resolve_request(*model, img2img), Catch::Contains("inpaint_fill 'latent_noise' applies to inpainting only"));
  CHECK(parse_inpaint_fill("latent_nothing") == InpaintFill::latent_nothing);
  CHECK_FALSE(parse_inpaint_fill("latent nothing"));
}
