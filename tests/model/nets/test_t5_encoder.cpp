// T5 encoder (SD3's text_encoder_3) parity against transformers' T5EncoderModel
// (tests/fixtures/references/tiny-sd3, README section M.1/M.4): the relative position buckets of
// offsets -255..255, block 0's position bias rows, every hidden state of prompt 0 and the last
// hidden state of all four prompts (no attention mask, as SD3). Tolerance 1e-5 absolute (float32;
// the fixtures' float64 re-run differs from float32 by 1.9e-6).
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include <iostream>

#include "model/loading/state_dict.h"
#include "model/nets/t5_encoder.h"
#include "model/pipeline/sd3_components.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kTol = 1e-5;

T5EncoderModel load_tiny() {
  return load_t5_encoder(test::fixture("pipelines/tiny-sd3/text_encoder_3"), at::kFloat);
}

}  // namespace

TEST_CASE("T5 relative position buckets match transformers for offsets -255..255", "[parity][t5]") {
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd3.safetensors"));
  at::Tensor offsets = at::arange(-255, 256, at::kLong);
  at::Tensor buckets = t5_relative_position_bucket(offsets, 32, 128);
  CHECK(at::equal(buckets, ref.get("text_encoder_3.relative_position_bucket")));
}

TEST_CASE("T5 encoder matches transformers' T5EncoderModel", "[parity][t5]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd3.safetensors"));
  T5EncoderModel model = load_tiny();
  at::Tensor bias = model->blocks_[0]->self_attention->SelfAttention->compute_bias(256, 256, at::kCPU);  // [1, h, 256, 256]
  auto d = test::compare(bias[0].select(1, 0), ref.get("text_encoder_3.position_bias_row0"));
  std::cout << test::describe("tiny-sd3 T5 position_bias_row0", d) << "\n";
  CHECK(d.max_abs == 0);
  d = test::compare(bias[0].select(1, 255), ref.get("text_encoder_3.position_bias_row_last"));
  std::cout << test::describe("tiny-sd3 T5 position_bias_row_last", d) << "\n";
  CHECK(d.max_abs == 0);

  T5EncoderOutput out = model->forward(ref.get("tokenizer_3.input_ids"));
  d = test::compare(out.last_hidden_state, ref.get("text_encoder_3.last_hidden_state"));
  std::cout << test::describe("tiny-sd3 T5 last_hidden_state", d) << "\n";
  CHECK(d.max_abs < kTol);
  REQUIRE(out.hidden_states.size() == 3);
  at::Tensor hs = at::stack(out.hidden_states).slice(1, 0, 1);  // [L+1, 1, 256, d]
  d = test::compare(hs, ref.get("text_encoder_3.hidden_states_prompt0"));
  std::cout << test::describe("tiny-sd3 T5 hidden_states_prompt0", d) << "\n";
  CHECK(d.max_abs < kTol);
}

TEST_CASE("T5 encoder: the tied embedding is registered under both names, the files need only one", "[t5]") {
  T5EncoderModel model = load_tiny();
  const auto shapes = module_tensor_shapes(*model);
  size_t tied = 0;
  for (const auto& [name, _] : shapes) tied += name == "shared.weight" || name == "encoder.embed_tokens.weight";
  CHECK(tied == 2);
  CHECK(model->shared->weight.data_ptr() == model->encoder->named_parameters()["embed_tokens.weight"].data_ptr());
}

TEST_CASE("T5 encoder: bad configs and inputs are errors", "[t5]") {
  nlohmann::json j = {{"d_model", 8}, {"d_kv", 2}, {"d_ff", 16}, {"num_layers", 1}, {"num_heads", 2},
                      {"vocab_size", 10}, {"feed_forward_proj", "gated-gelu-x"}};
  CHECK_THROWS_AS(T5Config::from_json(j), std::invalid_argument);
  j["feed_forward_proj"] = "gated-gelu";
  const T5Config c = T5Config::from_json(j);
  CHECK(c.is_gated_act);
  CHECK(c.dense_act_fn == "gelu_new");
  T5EncoderModel model = load_tiny();
  CHECK_THROWS_AS(model->forward(at::full({1, 4}, 5000, at::kLong)), std::invalid_argument);
  CHECK_THROWS_AS(model->forward(at::zeros({4}, at::kLong)), std::invalid_argument);
  test::TempDir dir;
  CHECK_THROWS_AS(load_t5_encoder(dir.path(), at::kFloat), LoadError);
}
