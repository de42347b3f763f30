// DeepCache and ToMe in the tiny SD1.5 pipeline (model/pipeline/speed_use.h):
//  - DeepCache interval 1 (every step full, through the layer-by-layer path) and ToMe ratio 0 give
//    the exact image byte for byte;
//  - DeepCache interval 2 runs the deep layers on every other step only: with their weights made NaN
//    after step 0, step 1 (cached) still equals the unpoisoned run and step 2 (full) turns NaN, while
//    poisoning a shallow layer (conv_in) spoils step 1;
//  - DeepCache interval 2 and ToMe ratio 0.5 change the image by the amounts printed here (stated in
//    docs/speed_options.md), non-zero and within a bound;
//  - what the options refuse.
#include <catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>

#include "model/pipeline/generate.h"
#include "test_util.h"

using namespace sdw;

namespace {

std::shared_ptr<SdModel> tiny() {
  static auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  return model;
}

GenerationRequest request() {
  GenerationRequest r;
  r.prompt = "a photo of an astronaut riding a horse on mars";
  r.negative_prompt = "blurry";
  r.width = 32;
  r.height = 32;  // latent 16 x 16: 256 tokens at full resolution
  r.steps = 8;
  r.guidance = 7.5;
  r.seed = 42;
  r.scheduler = "ddim";
  return r;
}

struct PixelDiff {
  int max = 0;
  double mean = 0;
};

PixelDiff pixel_diff(const Image& a, const Image& b) {
  REQUIRE(a.pixels.size() == b.pixels.size());
  PixelDiff d;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    const int e = std::abs(int(a.pixels[i]) - int(b.pixels[i]));
    d.max = std::max(d.max, e);
    d.mean += e;
  }
  d.mean /= static_cast<double>(a.pixels.size());
  return d;
}

// Fills a module's weights with NaN while it lives, then puts them back.
class Poison {
 public:
  explicit Poison(torch::nn::Module& m) {
    at::NoGradGuard no_grad;
    for (auto& p : m.parameters()) {
      params_.push_back(p);
      saved_.push_back(p.clone());
      p.fill_(std::numeric_limits<float>::quiet_NaN());
    }
  }
  ~Poison() {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) params_[i].copy_(saved_[i]);
  }

 private:
  std::vector<at::Tensor> params_, saved_;
};

DenoiseState prepared(SdModel& model, const GenerationRequest& r) {
  const ResolvedRequest req = resolve_request(model, r);
  return prepare_denoise(model, req, encode_prompt(model, req));
}

bool has_nan(const at::Tensor& t) { return t.isnan().any().item<bool>(); }

}  // namespace

TEST_CASE("DeepCache interval 1 and ToMe ratio 0 give the exact image byte for byte", "[pipeline][deepcache][tome]") {
  auto model = tiny();
  const GenerationResult exact = generate(*model, request());
  GenerationRequest r = request();
  r.deepcache = DeepCacheOptions{1, 1};
  CHECK(generate(*model, r).images.at(0).pixels == exact.images.at(0).pixels);
  r.deepcache = DeepCacheOptions{1, 5};  // the deepest branch: every layer but the mid block in the branch
  CHECK(generate(*model, r).images.at(0).pixels == exact.images.at(0).pixels);
  r = request();
  r.tome = TomeOptions{0.0};
  CHECK(generate(*model, r).images.at(0).pixels == exact.images.at(0).pixels);
}

TEST_CASE("DeepCache interval 2 runs the deep layers on even steps only", "[pipeline][deepcache]") {
  auto model = tiny();
  auto& unet = *model->unet;
  GenerationRequest r = request();
  r.deepcache = DeepCacheOptions{2, 1};  // branch 1: conv_in and down block 0's first layer; up block 1's last two
  DenoiseState ref = prepared(*model, r);
  std::vector<at::Tensor> ref_latents;
  while (!ref.done()) {
    denoise_step(*model, ref);
    ref_latents.push_back(ref.latents.clone());
  }
  REQUIRE(ref_latents.size() == 8);
  CHECK(ref.speed.cache.full_steps == 4);
  CHECK(ref.speed.cache.cached_steps == 4);
  // The exact loop's latents after step 1 differ (step 1 was cached above).
  DenoiseState exact = prepared(*model, request());
  denoise_step(*model, exact);
  CHECK(at::equal(exact.latents, ref_latents[0]));  // step 0 is a full step
  denoise_step(*model, exact);
  CHECK_FALSE(at::equal(exact.latents, ref_latents[1]));

  DenoiseState s = prepared(*model, r);
  denoise_step(*model, s);  // step 0: full, caches the deep features
  {
    // Everything outside the branch: down block 0's second resnet + attention and downsampler,
    // down block 1, the mid block, up block 0 and up block 1's first layer.
    Poison a(*unet.down_[0]->resnets_[1]), b(*unet.down_[0]->attentions_[1]), c(*unet.down_[0]->downsample_);
    Poison d(*unet.down_[1]), e(*unet.mid_block), f(*unet.up_[0]), g(*unet.up_[1]->resnets_[0]),
        h(*unet.up_[1]->attentions_[0]);
    denoise_step(*model, s);  // step 1: cached
    CHECK_FALSE(has_nan(s.latents));
    CHECK(at::equal(s.latents, ref_latents[1]));
    denoise_step(*model, s);  // step 2: full
    CHECK(has_nan(s.latents));
  }
  // A shallow layer runs on cached steps: poisoned, step 1 goes NaN.
  DenoiseState t = prepared(*model, r);
  denoise_step(*model, t);
  {
    Poison a(*unet.conv_in);
    denoise_step(*model, t);
  }
  CHECK(has_nan(t.latents));
  DenoiseState u = prepared(*model, r);
  denoise_step(*model, u);
  {
    Poison a(*unet.up_[1]->attentions_[2]);  // the up layer reading skip 0
    denoise_step(*model, u);
  }
  CHECK(has_nan(u.latents));
}

TEST_CASE("DeepCache interval 2 and ToMe 0.5: the measured difference from the exact image", "[pipeline][deepcache][tome]") {
  auto model = tiny();
  const GenerationResult exact = generate(*model, request());
  struct Case {
    const char* name;
    std::optional<DeepCacheOptions> deepcache;
    std::optional<TomeOptions> tome;
  };
  for (const Case& c : {Case{"deepcache 2 branch 0", DeepCacheOptions{2, 0}, {}},
                        Case{"deepcache 2 branch 1", DeepCacheOptions{2, 1}, {}},
                        Case{"deepcache 3 branch 1", DeepCacheOptions{3, 1}, {}},
                        Case{"tome 0.5", {}, TomeOptions{0.5}}}) {
    GenerationRequest r = request();
    r.deepcache = c.deepcache;
    r.tome = c.tome;
    const GenerationResult a = generate(*model, r);
    const PixelDiff d = pixel_diff(a.images.at(0), exact.images.at(0));
    std::printf("tiny-sd15 32x32, 8 DDIM steps, %s: max pixel diff %d, mean %.3f\n", c.name, d.max, d.mean);
    INFO(c.name << ": max " << d.max << ", mean " << d.mean);
    CHECK(d.max > 0);
    CHECK(d.max < 32);
    CHECK(d.mean < 3.0);
    // Deterministic: the same job gives the same bytes (ToMe's destinations from the job's seed).
    if (c.tome) CHECK(generate(*model, r).images.at(0).pixels == a.images.at(0).pixels);
  }
}

TEST_CASE("DeepCache and ToMe refuse what they cannot do", "[pipeline][deepcache][tome]") {
  auto model = tiny();
  GenerationRequest r = request();
  r.deepcache = DeepCacheOptions{2, 6};  // tiny-sd15 has skips 0..5
  CHECK_THROWS_AS(generate(*model, r), RequestError);
  r.deepcache = DeepCacheOptions{2, -1};
  CHECK_THROWS_AS(generate(*model, r), RequestError);
}
