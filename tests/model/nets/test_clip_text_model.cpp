// CLIP text encoder parity against transformers' outputs (tests/fixtures/references/<pipeline>):
// last hidden state, every layer's hidden state, pooled output, clip-skip features, and the
// projected text embeds of CLIPTextModelWithProjection (SDXL text_encoder_2).
// Tolerance: 1e-5 absolute (float32; the fixtures' float64 re-run differs from float32 by 1.1e-6).
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include <iostream>

#include "model/nets/clip_text_model.h"
#include "model/loading/diffusers_folder.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kTol = 1e-5;

void check(const std::string& pipeline, const std::string& component) {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("references/" + pipeline + ".safetensors"));
  auto model = load_text_encoder(test::fixture("pipelines/" + pipeline + "/" + component), at::kFloat);
  const std::string p = component + ".";
  CLIPTextOutput out = model->forward(ref.get(p + "input_ids"));

  auto d = test::compare(out.last_hidden_state, ref.get(p + "last_hidden_state"));
  std::cout << test::describe(pipeline + " " + component + " last_hidden_state", d) << "\n";
  CHECK(d.max_abs < kTol);

  at::Tensor hs = at::stack(out.hidden_states);  // [L+1, B, 77, H]
  d = test::compare(hs, ref.get(p + "hidden_states"));
  std::cout << test::describe(pipeline + " " + component + " hidden_states", d) << "\n";
  CHECK(d.max_abs < kTol);

  at::Tensor skip1 = model->text_model->final_layer_norm->forward(out.hidden_states[out.hidden_states.size() - 2]);
  d = test::compare(skip1, ref.get(p + "clip_skip1"));
  std::cout << test::describe(pipeline + " " + component + " clip_skip1", d) << "\n";
  CHECK(d.max_abs < kTol);

  if (ref.contains(p + "pooler_output")) {
    d = test::compare(out.pooler_output, ref.get(p + "pooler_output"));
    std::cout << test::describe(pipeline + " " + component + " pooler_output", d) << "\n";
    CHECK(d.max_abs < kTol);
  }
  if (ref.contains(p + "text_embeds")) {
    REQUIRE(out.text_embeds.defined());
    d = test::compare(out.text_embeds, ref.get(p + "text_embeds"));
    std::cout << test::describe(pipeline + " " + component + " text_embeds", d) << "\n";
    CHECK(d.max_abs < kTol);
  }
}

}  // namespace

TEST_CASE("tiny-sd15 text encoder (quick_gelu) matches transformers", "[parity][clip]") { check("tiny-sd15", "text_encoder"); }
TEST_CASE("tiny-sd21v text encoder (gelu) matches transformers", "[parity][clip]") { check("tiny-sd21v", "text_encoder"); }
TEST_CASE("tiny-sd15-inpaint text encoder matches transformers", "[parity][clip]") { check("tiny-sd15-inpaint", "text_encoder"); }
TEST_CASE("tiny-sdxl text encoders match transformers (incl. projection)", "[parity][clip]") {
  check("tiny-sdxl", "text_encoder");
  check("tiny-sdxl", "text_encoder_2");
}

TEST_CASE("text encoder loads fp32 weights into a bf16 model", "[clip]") {
  at::NoGradGuard no_grad;
  // Weights are fp32 on disk; loading into a bf16 model converts them. The result stays close.
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd15.safetensors"));
  auto model = load_text_encoder(test::fixture("pipelines/tiny-sd15/text_encoder"), at::kBFloat16);
  REQUIRE(model->text_model->final_layer_norm->weight.scalar_type() == at::kBFloat16);
  auto out = model->forward(ref.get("text_encoder.input_ids"));
  auto d = test::compare(out.last_hidden_state.to(at::kFloat), ref.get("text_encoder.last_hidden_state"));
  std::cout << test::describe("tiny-sd15 text encoder bf16", d) << "\n";
  CHECK(d.max_abs < 0.15);
}
