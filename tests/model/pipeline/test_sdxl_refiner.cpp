// SDXL base + refiner hand-off (model/pipeline/refiner.h, sdxl_stages.h):
//  1. the switch timesteps: denoising_end on the base and denoising_start on the refiner against
//     diffusers' formula (cutoff = int(round(T - f * T)); base keeps t >= cutoff, the refiner the
//     trailing t < cutoff, one more for a second-order scheduler when that count is even) for
//     several step counts, fractions and schedulers, plus one case worked out by hand;
//  2. a refiner without text_encoder encodes with text_encoder_2 alone (diffusers'
//     encode_prompt: the second half of the base's embeddings, checked against the tiny-sdxl
//     reference) and conditions on aesthetic scores;
//  3. the refiner starts from the base's latents unchanged, and generate_with_refiner runs both.
// The fixtures hold no refiner, so the test builds one from tiny-sdxl (tests/tiny_refiner.h). No diffusers image exists
// for that model: part 3 checks the hand-off's mechanics, not pixels.
#include <catch.hpp>

#include <filesystem>
#include <fstream>

#include "model/loading/diffusers_folder.h"
#include "model/pipeline/refiner.h"
#include "model/pipeline/sdxl_stages.h"
#include "test_util.h"
#include "tiny_refiner.h"

using namespace sdw;
namespace fs = std::filesystem;

namespace {

std::string tiny() { return test::fixture("pipelines/tiny-sdxl"); }

std::string make_refiner(const test::TempDir& tmp) { return test::make_tiny_refiner(tmp); }

std::vector<double> values(const at::Tensor& t) {
  std::vector<double> out;
  for (int64_t i = 0; i < t.size(0); ++i) out.push_back(t[i].item<double>());
  return out;
}

GenerationRequest prompt_request() {
  GenerationRequest r;
  r.prompt = "a photo of an astronaut riding a horse on mars";
  r.negative_prompt = "lowres, bad anatomy, blurry";
  r.width = 48;
  r.height = 32;
  r.steps = 10;
  r.guidance = 7.5;
  r.seed = 11;
  return r;
}

}  // namespace

TEST_CASE("hand-off timesteps follow diffusers' denoising_end / denoising_start formula", "[sdxl][refiner]") {
  const nlohmann::json config = read_json_file(tiny() + "/scheduler/scheduler_config.json");
  int checked = 0;
  for (const std::string name : {"", "euler_a", "dpmpp_2m", "heun", "ddim"}) {
    for (int steps : {4, 10, 25, 40}) {
      for (double f : {0.5, 0.7, 0.8, 0.9, 0.95}) {
        INFO((name.empty() ? "folder scheduler" : name) << ", " << steps << " steps, fraction " << f);
        auto base = name.empty() ? make_scheduler(config) : make_scheduler(name, config);
        auto ref = name.empty() ? make_scheduler(config) : make_scheduler(name, config);
        base->set_timesteps(steps);
        const std::vector<double> all = values(base->timesteps());
        const std::vector<double> got_base = values(apply_denoising_end(base->timesteps(), f, 1000));
        const std::vector<double> got_ref = values(sdxl_img2img_timesteps(*ref, steps, 0.3, f));
        // diffusers: discrete_timestep_cutoff = int(round(1000 - f * 1000))
        const double cutoff = std::nearbyint(1000.0 - f * 1000.0);
        std::vector<double> want_base;
        for (double t : all)
          if (t >= cutoff) want_base.push_back(t);
        size_t below = 0;
        for (double t : all) below += t < cutoff;
        if (ref->order() == 2 && below % 2 == 0) ++below;
        const std::vector<double> want_ref(all.end() - static_cast<long>(below), all.end());
        CHECK(got_base == std::vector<double>(all.begin(), all.begin() + static_cast<long>(want_base.size())));
        CHECK(got_base == want_base);
        CHECK(got_ref == want_ref);
        if (ref->order() == 1) {  // together: the schedule, once
          std::vector<double> both = got_base;
          both.insert(both.end(), got_ref.begin(), got_ref.end());
          CHECK(both == all);
        }
        ++checked;
      }
    }
  }
  CHECK(checked == 100);
  // By hand: Euler, leading spacing, steps_offset 1, 10 steps -> 901, 801, ..., 1; 0.8 -> cutoff 200.
  auto euler = make_scheduler(config);
  euler->set_timesteps(10);
  CHECK(values(apply_denoising_end(euler->timesteps(), 0.8, 1000)) ==
        std::vector<double>{901, 801, 701, 601, 501, 401, 301, 201});
  CHECK(values(sdxl_img2img_timesteps(*euler, 10, 0.3, 0.8)) == std::vector<double>{101, 1});
  CHECK(denoising_cutoff(0.8, 1000) == 200);
  CHECK(denoising_cutoff(0.7495, 1000) == 250);  // 250.5 rounds half to even, as Python's round
}

TEST_CASE("a refiner without text_encoder encodes with text_encoder_2 alone and aesthetic time ids", "[sdxl][refiner][parity]") {
  test::TempDir tmp;
  auto refiner = load_diffusers_model(make_refiner(tmp), ModelLoadOptions{});
  CHECK(refiner->is_sdxl());
  CHECK(refiner->text_encoder.is_empty());
  CHECK(!refiner->tokenizer);
  CHECK(refiner->requires_aesthetics_score);
  CHECK(!refiner->force_zeros_for_empty_prompt);
  GenerationRequest req = prompt_request();
  req.width = req.height = 32;  // the reference's size
  const PromptEmbeddings p = encode_prompt(*refiner, resolve_request(*refiner, req));
  // diffusers' encode_prompt with [tokenizer_2] / [text_encoder_2]: text_encoder_2's penultimate
  // states = the last 64 features of the base's concatenated embeddings.
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sdxl.safetensors"));
  const at::Tensor pos = ref.get("encode_prompt.prompt_embeds").slice(2, 32, 96);
  const at::Tensor neg = ref.get("encode_prompt.negative_prompt_embeds").slice(2, 32, 96);
  REQUIRE(p.context.sizes() == at::IntArrayRef({2, 77, 64}));
  CHECK(test::compare(p.context.slice(0, 1, 2), pos).max_abs < 1e-5);
  CHECK(test::compare(p.context.slice(0, 0, 1), neg).max_abs < 1e-5);
  CHECK(test::compare(p.added.text_embeds.slice(0, 1, 2), ref.get("encode_prompt.pooled_prompt_embeds")).max_abs < 1e-5);
  const at::Tensor ids = at::tensor({32.0, 32.0, 0.0, 0.0, 2.5, 32.0, 32.0, 0.0, 0.0, 6.0}).view({2, 5});
  CHECK(at::equal(p.added.time_ids.to(at::kDouble), ids));
  req.aesthetic_score = 7.0;
  req.negative_aesthetic_score = 1.0;
  const PromptEmbeddings q = encode_prompt(*refiner, resolve_request(*refiner, req));
  CHECK(q.added.time_ids[0][4].item<double>() == 1.0);
  CHECK(q.added.time_ids[1][4].item<double>() == 7.0);
  // A base model's UNet cannot take aesthetic ids: the mismatch is named.
  auto base = load_diffusers_model(tiny(), ModelLoadOptions{});
  base->requires_aesthetics_score = true;
  CHECK_THROWS_WITH(encode_prompt(*base, resolve_request(*base, req)), Catch::Contains("requires_aesthetics_score"));
}

TEST_CASE("the refiner starts from the base's latents unchanged and finishes the schedule", "[sdxl][refiner]") {
  test::TempDir tmp;
  auto refiner = load_diffusers_model(make_refiner(tmp), ModelLoadOptions{});
  auto base = load_diffusers_model(tiny(), ModelLoadOptions{});
  for (const std::string scheduler : {"", "euler_a"}) {
    INFO("scheduler " << scheduler);
    GenerationRequest req = prompt_request();
    req.scheduler = scheduler;
    // By stages: the base to 0.8, then the refiner from its latents.
    GenerationRequest b = req;
    b.denoising_end = 0.8;
    const ResolvedRequest rb = resolve_request(*base, b);
    DenoiseState bs = prepare_denoise(*base, rb, encode_prompt(*base, rb));
    CHECK(values(bs.timesteps) == std::vector<double>{901, 801, 701, 601, 501, 401, 301, 201});
    while (!bs.done()) denoise_step(*base, bs);
    const at::Tensor handed = bs.latents.clone();
    const ResolvedRequest rr = refiner_request(*refiner, rb, 0.8);
    CHECK(rr.request.mode == GenerationMode::img2img);
    CHECK(*rr.request.denoising_start == 0.8);
    CHECK(rr.seed == rb.seed);
    DenoiseState rs = prepare_refiner(*refiner, rr, encode_prompt(*refiner, rr), bs);
    CHECK(at::equal(rs.latents, handed));  // no VAE round trip, no noise
    CHECK(values(rs.timesteps) == std::vector<double>{101, 1});
    while (!rs.done()) denoise_step(*refiner, rs);
    const std::vector<Image> by_stages = to_images(decode_latents(*refiner, rs.latents));

    // generate_with_refiner: the same bytes, progress over both models, deterministic.
    std::vector<int> seen;
    GenerateHooks hooks;
    hooks.on_step = [&](int step, int total, const at::Tensor&) {
      seen.push_back(step);
      CHECK(total == 10);
    };
    const GenerationResult a = generate_with_refiner(*base, *refiner, req, 0.8, hooks);
    CHECK(a.unet_calls == 10);
    CHECK(seen.size() == 10);
    REQUIRE(a.images.size() == 1);
    CHECK(a.images[0].width == 48);
    CHECK(a.images[0].pixels == by_stages[0].pixels);
    CHECK(generate_with_refiner(*base, *refiner, req, 0.8).images[0].pixels == a.images[0].pixels);
    // The refiner matters: the base alone to the end gives another image.
    CHECK(generate(*base, req).images[0].pixels != a.images[0].pixels);
  }
}

TEST_CASE("refiner hand-offs refuse what they cannot do", "[sdxl][refiner]") {
  test::TempDir tmp;
  auto refiner = load_diffusers_model(make_refiner(tmp), ModelLoadOptions{});
  auto base = load_diffusers_model(tiny(), ModelLoadOptions{});
  auto sd15 = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  GenerationRequest req = prompt_request();
  CHECK_THROWS_WITH(generate_with_refiner(*sd15, *refiner, req, 0.8), Catch::Contains("SDXL"));
  CHECK_THROWS_WITH(generate_with_refiner(*base, *refiner, req, 1.0), Catch::Contains("between 0 and 1"));
  req.mode = GenerationMode::inpaint;
  CHECK_THROWS_WITH(generate_with_refiner(*base, *refiner, req, 0.8), Catch::Contains("inpainting"));
  // SD1.x models take no denoising_start / denoising_end.
  GenerationRequest sd = prompt_request();
  sd.denoising_end = 0.5;
  CHECK_THROWS_WITH(resolve_request(*sd15, sd), Catch::Contains("SDXL models only"));
}
