// The batched denoising step (model/pipeline/denoise_step.h) on the tiny fixture pipelines:
// several jobs stepped through one UNet (or SD3 transformer) call, at different step counts,
// with their own seeds, samplers, guidance and image counts, end with the latents each gets
// alone (stated tolerance: max |diff| <= 5e-4 in fp32; the larger matmuls round differently:
// 0 for the UNets and 4e-6 for SD3 where first run, up to 1.7e-4 on an AVX2-only AMD EPYC),
// for SD1.5 txt2img, the 9-channel inpainting UNet, SDXL (its added conditioning is batched too)
// and SD3; and can_batch refuses what cannot share a call.
#include <catch.hpp>

#include <iostream>

#include "model/pipeline/sd_model.h"
#include "model/pipeline/denoise_step.h"
#include "model/pipeline/stages.h"
#include "test_util.h"

using namespace sdw;

namespace {

Image pattern(int w, int h, int channels, int salt) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.resize(size_t(w) * h * channels);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t((i * 37 + salt * 101 + (i / (w * channels)) * 13) % 256);
  if (channels == 1)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) img.pixels[size_t(y) * w + x] = (x > w / 4 && x < 3 * w / 4 && y > h / 3) ? 255 : 0;
  return img;
}

// Three jobs that can share calls: other seeds, samplers, guidance, step counts and image counts.
std::vector<GenerationRequest> requests(const SdModel& model, bool inpaint) {
  std::vector<GenerationRequest> out(3);
  const char* schedulers[] = {"euler", "dpmpp_2m", "euler_a"};
  for (int i = 0; i < 3; ++i) {
    GenerationRequest& r = out[i];
    r.prompt = i == 0 ? "a red fox in snow" : i == 1 ? "a lighthouse at dusk" : "an old map";
    r.width = r.height = 64;
    r.steps = 4 + i;
    r.guidance = i == 1 ? 4.0 : 7.5;
    r.seed = 100 + i;
    r.num_images = i == 2 ? 2 : 1;
    if (!model.is_sd3()) r.scheduler = schedulers[i];
    if (inpaint) {
      r.mode = GenerationMode::inpaint;
      r.init_image = pattern(64, 64, 3, i);
      r.mask_image = pattern(64, 64, 1, i);
      r.strength = 1.0;
    }
  }
  return out;
}

DenoiseState prepared(SdModel& model, const GenerationRequest& r) {
  RequestLimits limits;
  const ResolvedRequest resolved = resolve_request(model, r, limits);
  return prepare_denoise(model, resolved, encode_prompt(model, resolved));
}

// Each job alone, then the three batched with the third joining after two batched steps; the
// final latents agree within `tol`.
void check_batched_equals_alone(SdModel& model, bool inpaint, const std::string& what) {
  const std::vector<GenerationRequest> reqs = requests(model, inpaint);
  std::vector<at::Tensor> alone;
  for (const auto& r : reqs) {
    DenoiseState s = prepared(model, r);
    while (!s.done()) denoise_step(model, s);
    alone.push_back(s.latents);
  }
  std::vector<DenoiseState> states;
  for (const auto& r : reqs) states.push_back(prepared(model, r));
  REQUIRE(can_batch(model, states[0], states[1]));
  REQUIRE(can_batch(model, states[0], states[2]));
  int calls = 0, shared = 0;
  for (int round = 0;; ++round) {
    std::vector<DenoiseState*> batch;
    for (size_t i = 0; i < states.size(); ++i) {
      if (i == 2 && round < 2) continue;  // the third job joins later, at its step 0
      if (!states[i].done()) batch.push_back(&states[i]);
    }
    if (batch.empty()) break;
    denoise_step_batch(model, batch);
    ++calls;
    if (batch.size() > 1) ++shared;
  }
  CHECK(shared >= 3);
  CHECK(calls < 4 + 5 + 6);
  for (size_t i = 0; i < states.size(); ++i) {
    const double d = (states[i].latents - alone[i]).abs().max().item<double>();
    std::cout << what << " job " << i << ": batched vs alone, final latents max |diff| " << d << "\n";
    CHECK(d <= 5e-4);
    CHECK(states[i].latents.sizes() == alone[i].sizes());
  }
  // The jobs differ (the check above compares unequal latents).
  CHECK((alone[0] - alone[1]).abs().max().item<double>() > 0.1);
}

std::shared_ptr<SdModel> load(const std::string& name) {
  return load_diffusers_model(test::fixture("pipelines/" + name), ModelLoadOptions{});
}

}  // namespace

TEST_CASE("batched steps equal each job alone: SD1.5, 9-channel inpainting, SDXL, SD3", "[batching]") {
  // {fixture pipeline, inpaint jobs}
  const auto [name, inpaint] = GENERATE(std::make_pair("tiny-sd15", false), std::make_pair("tiny-sd15-inpaint", true),
                                        std::make_pair("tiny-sdxl", false), std::make_pair("tiny-sd3", false));
  auto m = load(name);
  check_batched_equals_alone(*m, inpaint, name);
}

TEST_CASE("can_batch refuses jobs that cannot share a UNet call", "[batching]") {
  auto m = load("tiny-sd15");
  GenerationRequest base = requests(*m, false)[0];
  const DenoiseState a = prepared(*m, base);
  GenerationRequest no_cfg = base;
  no_cfg.guidance = 1.0;
  CHECK_FALSE(can_batch(*m, a, prepared(*m, no_cfg)));
  GenerationRequest other_size = base;
  other_size.width = 72;
  CHECK_FALSE(can_batch(*m, a, prepared(*m, other_size)));
  GenerationRequest deepcache = base;
  deepcache.deepcache = DeepCacheOptions{2, 0};
  CHECK_FALSE(can_batch(*m, a, prepared(*m, deepcache)));
  DenoiseState done = prepared(*m, base);
  while (!done.done()) denoise_step(*m, done);
  CHECK_FALSE(can_batch(*m, a, done));
  std::vector<DenoiseState*> mixed{const_cast<DenoiseState*>(&a), nullptr};
  DenoiseState c = prepared(*m, no_cfg);
  mixed[1] = &c;
  CHECK_THROWS_WITH(denoise_step_batch(*m, mixed), Catch::Contains("cannot share"));
}
