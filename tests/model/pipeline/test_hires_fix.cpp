// Hires fix (model/pipeline/hires_fix.h) is the composition it is defined as, on the tiny SD1.5
// fixture:
//  1. the latent upscale is torch.nn.functional.interpolate(mode="bilinear" / "nearest",
//     antialias=False): checked against PyTorch's documented index arithmetic (align_corners
//     False: src = (dst + 0.5) * in / out - 0.5, clamped at 0; nearest: floor(dst * in / out)),
//     written out here independently of ATen, and against values worked out by hand;
//  2. A1111's target size and second-pass step arithmetic;
//  3. the first pass equals a plain txt2img (its latents, bit for bit) and the final image equals
//     img2img on the upscaled result with the same seed: through generate() with the Lanczos-
//     resized first image as init image, and through the img2img stages from the interpolated
//     latents; progress counts both passes; the infotext carries A1111's hires fields;
//  4. what hires fix refuses.
#include <catch.hpp>

#include <cmath>
#include <vector>

#include "model/image/pil_resize.h"
#include "model/loading/diffusers_folder.h"
#include "model/pipeline/hires_fix.h"
#include "test_util.h"

using namespace sdw;

namespace {

// PyTorch's upsample_bilinear2d (align_corners=False, no scale given) for a [1, 1, h, w] tensor.
std::vector<double> reference_bilinear(const std::vector<double>& in, int h, int w, int oh, int ow) {
  std::vector<double> out(static_cast<size_t>(oh * ow));
  auto src = [](int dst, int in_size, int out_size) {
    const double s = (dst + 0.5) * static_cast<double>(in_size) / out_size - 0.5;
    return s < 0 ? 0.0 : s;
  };
  for (int y = 0; y < oh; ++y) {
    const double sy = src(y, h, oh);
    const int y0 = static_cast<int>(sy), y1 = std::min(y0 + 1, h - 1);
    const double ly = sy - y0;
    for (int x = 0; x < ow; ++x) {
      const double sx = src(x, w, ow);
      const int x0 = static_cast<int>(sx), x1 = std::min(x0 + 1, w - 1);
      const double lx = sx - x0;
      out[static_cast<size_t>(y * ow + x)] = (1 - ly) * ((1 - lx) * in[y0 * w + x0] + lx * in[y0 * w + x1]) +
                                             ly * ((1 - lx) * in[y1 * w + x0] + lx * in[y1 * w + x1]);
    }
  }
  return out;
}

std::vector<double> values(const at::Tensor& t) {
  at::Tensor c = t.to(at::kDouble).contiguous().view(-1);
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

GenerationRequest hires_request(const std::string& scheduler, HiresUpscaler upscaler) {
  GenerationRequest r;
  r.prompt = "a photo of an astronaut riding a horse on mars";
  r.negative_prompt = "blurry";
  r.width = 32;
  r.height = 24;
  r.steps = 4;
  r.guidance = 7.5;
  r.seed = 42;
  r.scheduler = scheduler;
  HiresOptions h;
  h.scale = 2;
  h.strength = 0.5;
  h.steps = 3;
  h.upscaler = upscaler;
  h.prompt = "a photo of an astronaut riding a horse on mars, detailed";
  r.hires = h;
  return r;
}

}  // namespace

TEST_CASE("the latent upscale is F.interpolate bilinear / nearest without antialias", "[hires]") {
  // By hand: [[0, 1], [2, 3]] to 4x4, align_corners False: rows 0, .25, .75, 1 (x) and 0, .5, 1.5, 2 (y).
  const at::Tensor small = at::tensor({0.0f, 1.0f, 2.0f, 3.0f}).view({1, 1, 2, 2});
  const at::Tensor up = upscale_latents(small, 4, 4, HiresUpscaler::latent);
  CHECK(values(up[0][0][0]) == std::vector<double>{0, 0.25, 0.75, 1});
  CHECK(values(up[0][0][3]) == std::vector<double>{2, 2.25, 2.75, 3});
  CHECK(values(up[0][0].select(1, 0)) == std::vector<double>{0, 0.5, 1.5, 2});
  CHECK(values(upscale_latents(small, 4, 4, HiresUpscaler::latent_nearest)[0][0][1]) == std::vector<double>{0, 0, 1, 1});
  // A latent-like tensor at non-integer scales, against the formula.
  at::manual_seed(3);
  const at::Tensor lat = at::randn({1, 4, 6, 5});
  for (auto [oh, ow] : std::vector<std::pair<int, int>>{{12, 10}, {9, 13}, {15, 7}}) {
    const at::Tensor got = upscale_latents(lat, oh, ow, HiresUpscaler::latent);
    REQUIRE(got.sizes() == at::IntArrayRef({1, 4, oh, ow}));
    for (int c = 0; c < 4; ++c) {
      const std::vector<double> want = reference_bilinear(values(lat[0][c]), 6, 5, oh, ow);
      const std::vector<double> have = values(got[0][c]);
      double worst = 0;
      for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(want[i] - have[i]));
      CHECK(worst < 1e-6);
    }
    const at::Tensor near = upscale_latents(lat, oh, ow, HiresUpscaler::latent_nearest);
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x)
        CHECK(near[0][1][y][x].item<float>() == lat[0][1][y * 6 / oh][x * 5 / ow].item<float>());
  }
}

TEST_CASE("hires target sizes and second-pass steps follow A1111", "[hires]") {
  HiresOptions h;
  h.scale = 2;
  CHECK(hires_target_size(h, 512, 512) == std::pair<int, int>{1024, 1024});
  h.scale = 1.5;
  CHECK(hires_target_size(h, 512, 768) == std::pair<int, int>{768, 1152});
  h.width = 1024;  // hr_resize_x alone: y = 1024 * 768 // 512
  CHECK(hires_target_size(h, 512, 768) == std::pair<int, int>{1024, 1536});
  h.width = 0;
  h.height = 1000;  // hr_resize_y alone: x = 1000 * 512 // 768 = 666
  CHECK(hires_target_size(h, 512, 768) == std::pair<int, int>{666, 1000});
  // setup_img2img_steps: int(steps / min(strength, 0.999))
  CHECK(hires_img2img_steps(20, 0.5) == 40);
  CHECK(hires_img2img_steps(10, 0.7) == 14);
  CHECK(hires_img2img_steps(10, 1.0) == 10);
}

TEST_CASE("hires fix = txt2img, then img2img on the upscaled result with the same seed", "[hires][pipeline]") {
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  for (const std::string scheduler : {"", "euler_a"}) {
    for (HiresUpscaler upscaler : {HiresUpscaler::latent, HiresUpscaler::latent_nearest, HiresUpscaler::lanczos}) {
      INFO("scheduler '" << scheduler << "', upscaler " << hires_upscaler_name(upscaler));
      const GenerationRequest req = hires_request(scheduler, upscaler);
      // 1st half: a plain txt2img at the first size (no hires), by the stages.
      GenerationRequest plain = req;
      plain.hires.reset();
      const ResolvedRequest r1 = resolve_request(*model, plain);
      DenoiseState s1 = prepare_denoise(*model, r1, encode_prompt(*model, r1));
      const int n1 = static_cast<int>(s1.total());  // PNDM: 5 for 4 steps (its PLMS warm-up)
      run_denoise_loop(*model, s1, {}, 0, n1);
      const GenerationResult first_image = generate(*model, plain);

      // The hires job, with the latents at the end of its first pass.
      at::Tensor first_latents;
      std::vector<int> steps;
      int total = 0;
      GenerateHooks hooks;
      hooks.on_step = [&](int step, int t, const at::Tensor& latents) {
        steps.push_back(step);
        total = t;
        if (step == n1) first_latents = latents.clone();
      };
      const GenerationResult got = generate(*model, req, hooks);  // dispatches to generate_hires
      REQUIRE(got.images.size() == 1);
      CHECK(got.images[0].width == 64);
      CHECK(got.images[0].height == 48);
      REQUIRE(first_latents.defined());
      CHECK(at::equal(first_latents, s1.latents));
      CHECK(to_images(decode_latents(*model, first_latents))[0].pixels == first_image.images[0].pixels);

      // 2nd half: img2img at 64x48 on the upscaled first result, seed 42 again, the hires prompt,
      // strength 0.5 and int(3 / 0.5) = 6 steps (3 run with an order-1 scheduler).
      GenerationRequest second = plain;
      second.mode = GenerationMode::img2img;
      second.width = 64;
      second.height = 48;
      second.prompt = *req.hires->prompt;
      second.strength = 0.5;
      second.steps = 6;
      std::vector<uint8_t> want;
      int n2 = 0;
      if (upscaler == HiresUpscaler::lanczos) {
        second.init_image = resize_lanczos_pil(first_image.images[0], 64, 48);
        const GenerationResult i2i = generate(*model, second);
        want = i2i.images[0].pixels;
        n2 = i2i.unet_calls;
      } else {
        const ResolvedRequest r2 = resolve_request(*model, second);  // no image: latents given
        PrepareOverrides o;
        o.init_latents = at::upsample_bilinear2d(s1.latents, {24, 32}, false);
        if (upscaler == HiresUpscaler::latent_nearest) o.init_latents = at::upsample_nearest2d(s1.latents, {24, 32});
        DenoiseState s2 = prepare_denoise(*model, r2, encode_prompt(*model, r2), o);
        n2 = static_cast<int>(s2.total());
        run_denoise_loop(*model, s2, {}, 0, n2);
        want = to_images(decode_latents(*model, s2.latents))[0].pixels;
      }
      CHECK(got.images[0].pixels == want);
      if (!scheduler.empty()) CHECK(n2 == 3);
      // Progress over both passes, one count.
      CHECK(total == n1 + n2);
      CHECK(got.unet_calls == n1 + n2);
      REQUIRE(steps.size() == static_cast<size_t>(n1 + n2));
      for (size_t i = 0; i < steps.size(); ++i) CHECK(steps[i] == static_cast<int>(i + 1));
      // The hires pass changes the image: not the first pass's image merely resized.
      CHECK(resize_lanczos_pil(first_image.images[0], 64, 48).pixels != got.images[0].pixels);

      // A1111's infotext: the first pass's size, the hires fields.
      const std::string text = got.parameters_text("tiny-sd15", req);
      INFO(text);
      CHECK(text.find("Size: 32x24") != std::string::npos);
      CHECK(text.find("Denoising strength: 0.5") != std::string::npos);
      CHECK(text.find(std::string("Hires upscale: 2, Hires steps: 3, Hires upscaler: ") + hires_upscaler_name(upscaler) +
                      ", Hires prompt: \"a photo of an astronaut riding a horse on mars, detailed\"") != std::string::npos);
    }
  }
}

TEST_CASE("hires fix refuses what it cannot do", "[hires]") {
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  GenerationRequest req = hires_request("", HiresUpscaler::latent);
  req.hires->scale = 1.0;
  CHECK_THROWS_WITH(generate(*model, req), Catch::Contains("hires: scale must be greater than 1"));
  req.hires->scale = 4.5;
  CHECK_THROWS_WITH(generate(*model, req), Catch::Contains("at most 4"));
  req.hires->scale = 1.1;  // 32x24 -> 35x26
  CHECK_THROWS_WITH(generate(*model, req), Catch::Contains("multiple of 8"));
  req.hires->scale = 2;
  req.hires->strength = 0;
  CHECK_THROWS_WITH(generate(*model, req), Catch::Contains("hires: strength"));
  req.hires->strength = 0.5;
  req.num_images = 2;
  CHECK_THROWS_WITH(generate(*model, req), Catch::Contains("one image"));
  req.num_images = 1;
  RequestLimits limits;
  limits.max_side = 48;
  CHECK_THROWS_WITH(generate(*model, req, {}, limits), Catch::Contains("hires: width"));
  req.mode = GenerationMode::img2img;
  CHECK_THROWS_WITH(generate(*model, req), Catch::Contains("txt2img"));
  CHECK_THROWS_AS(parse_hires_upscaler("ESRGAN_4x"), std::invalid_argument);
  CHECK(parse_hires_upscaler("Latent (nearest)") == HiresUpscaler::latent_nearest);
}
