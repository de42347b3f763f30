// SD3's T5 on a device of its own (ModelLoadOptions::t5_device, `--t5-device`): T5's weights are
// loaded on the named device and recorded as T5's device, and the prompt embeddings (and so the
// images) are the same as with T5 on the model's device. This machine has only a CPU: the split
// with the transformer on a GPU is not exercised here.
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include "model/pipeline/sd3_model.h"
#include "model/pipeline/sd3_stages.h"
#include "test_util.h"

using namespace sdw;

namespace {

std::shared_ptr<SdModel> load(std::optional<at::Device> t5_device) {
  ModelLoadOptions o;
  o.t5_device = t5_device;
  return load_diffusers_model(test::fixture("pipelines/tiny-sd3"), o);
}

PromptEmbeddings embeddings(SdModel& model) {
  GenerationRequest r;
  r.prompt = "a photo of an astronaut riding a horse on mars";
  r.negative_prompt = "lowres";
  r.guidance = 7.0;
  r.steps = 2;
  r.width = r.height = 32;
  r.seed = 0;
  return encode_prompt(model, resolve_request(model, r));
}

}  // namespace

TEST_CASE("SD3: T5 is loaded on the device named for it and the embeddings do not change", "[sd3]") {
  at::NoGradGuard no_grad;
  auto plain = load(std::nullopt);
  auto moved = load(at::Device(at::kCPU));
  REQUIRE(plain->sd3->has_t5());
  REQUIRE(moved->sd3->has_t5());
  CHECK(plain->sd3->t5_device == plain->device);  // unset: the model's device
  CHECK(moved->sd3->t5_device == at::Device(at::kCPU));
  for (const auto& p : moved->sd3->text_encoder_3->parameters()) {
    CHECK(p.device() == at::Device(at::kCPU));
    CHECK(p.scalar_type() == at::kFloat);  // the model's dtype: no bf16 switch when T5 stays with the model
  }
  const PromptEmbeddings a = embeddings(*plain), b = embeddings(*moved);
  REQUIRE(a.context.sizes() == b.context.sizes());
  CHECK(a.context.device() == plain->device);
  CHECK(at::equal(a.context, b.context));
  CHECK(at::equal(a.added.text_embeds, b.added.text_embeds));
}

TEST_CASE("SD3: the model's default max_sequence_length comes from the load options", "[sd3]") {
  ModelLoadOptions o;
  o.max_sequence_length = 77;
  auto m = load_diffusers_model(test::fixture("pipelines/tiny-sd3"), o);
  GenerationRequest r;
  r.prompt = "a fox";
  CHECK(resolve_request(*m, r).request.max_sequence_length == 77);
  r.max_sequence_length = 100;  // a request's own wins
  CHECK(resolve_request(*m, r).request.max_sequence_length == 100);
  o.max_sequence_length = 513;
  CHECK_THROWS_WITH(load_diffusers_model(test::fixture("pipelines/tiny-sd3"), o),
                    Catch::Contains("max_sequence_length must be between 1 and 512"));
}
