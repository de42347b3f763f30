// SD3Transformer2DModel (MMDiT) and SD3's 16-channel AutoencoderKL parity against diffusers
// (tests/fixtures/references/tiny-sd3, README section M.4): every hooked intermediate of one
// forward (patch embed + cropped position table, temb, context projection, each block's streams,
// adaLN-Zero outputs, norm_out, proj_out), the output on a square and a non-square latent, and
// the VAE's decode (z / scaling + shift) and encode posterior. Tolerance 1e-5 absolute (float32;
// diffusers' float64 re-run differs from float32 by 5.6e-7 for the transformer, 1.9e-6 for the VAE).
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include <iostream>

#include "model/loading/diffusers_folder.h"
#include "model/pipeline/sd3_components.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kTol = 1e-5;

void expect_close(const std::string& what, const at::Tensor& actual, const at::Tensor& expected, double tol = kTol) {
  auto d = test::compare(actual, expected);
  std::cout << test::describe("tiny-sd3 " + what, d) << "\n";
  CHECK(d.max_abs < tol);
}

SD3Transformer2DModel load_tiny() {
  return load_sd3_transformer(test::fixture("pipelines/tiny-sd3/transformer"), at::kFloat);
}

}  // namespace

TEST_CASE("SD3 transformer forward matches diffusers, intermediates included", "[parity][sd3]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd3.safetensors"));
  SD3Transformer2DModel model = load_tiny();
  const std::string p = "transformer.";
  at::Tensor x = ref.get(p + "hidden_states");
  expect_close("pos_embed_cropped", model->pos_embed->cropped_pos_embed(x.size(2), x.size(3)), ref.get(p + "pos_embed_cropped"));
  at::Tensor t = ref.get(p + "timestep");
  expect_close("timestep_proj", nn::timestep_embedding(t, 256, true, 0), ref.get(p + "timestep_proj"));
  SD3TransformerTrace trace;
  at::Tensor out = model->forward(x, ref.get(p + "encoder_hidden_states"), ref.get(p + "pooled_projections"), t, &trace);
  expect_close("patch_embed_out", trace.patch_embed_out, ref.get(p + "patch_embed_out"));
  expect_close("temb", trace.temb, ref.get(p + "temb"));
  expect_close("context_embedder_out", trace.context_embedder_out, ref.get(p + "context_embedder_out"));
  REQUIRE(trace.block_hidden_out.size() == 2);
  expect_close("block0.hidden_out", trace.block_hidden_out[0], ref.get(p + "block0.hidden_out"));
  expect_close("block0.context_out", trace.block_context_out[0], ref.get(p + "block0.context_out"));
  expect_close("block1.hidden_out", trace.block_hidden_out[1], ref.get(p + "block1.hidden_out"));
  CHECK_FALSE(trace.block_context_out[1].defined());  // context_pre_only: no context output
  expect_close("norm_out", trace.norm_out, ref.get(p + "norm_out"));
  expect_close("proj_out", trace.proj_out, ref.get(p + "proj_out"));
  expect_close("transformer.out", out, ref.get(p + "out"));

  // The adaLN-Zero parts of block 0 on the same inputs.
  auto n = model->blocks_[0]->norm1->forward(trace.patch_embed_out, trace.temb);
  expect_close("block0.norm1_out", n.x, ref.get(p + "block0.norm1_out"));
  expect_close("block0.gate_msa", n.gate_msa, ref.get(p + "block0.gate_msa"));
}

TEST_CASE("SD3 transformer on a non-square latent crops the position table off-centre as diffusers", "[parity][sd3]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd3.safetensors"));
  SD3Transformer2DModel model = load_tiny();
  const std::string p = "transformer_nonsquare.";
  at::Tensor x = ref.get(p + "hidden_states");  // [1, 16, 40, 24]
  expect_close("nonsquare pos_embed_cropped", model->pos_embed->cropped_pos_embed(x.size(2), x.size(3)),
               ref.get(p + "pos_embed_cropped"));
  at::Tensor out = model->forward(x, ref.get(p + "encoder_hidden_states"), ref.get(p + "pooled_projections"),
                                  ref.get(p + "timestep"));
  expect_close("transformer_nonsquare.out", out, ref.get(p + "out"));
}

TEST_CASE("SD3 transformer refuses wrong shapes and unsupported configs", "[sd3]") {
  at::NoGradGuard no_grad;
  SD3Transformer2DModel model = load_tiny();
  at::Tensor ctx = at::zeros({1, 10, 96}), pooled = at::zeros({1, 64}), t = at::full({1}, 500.0);
  CHECK_THROWS_AS(model->forward(at::zeros({1, 16, 9, 8}), ctx, pooled, t), std::invalid_argument);   // odd size
  CHECK_THROWS_AS(model->forward(at::zeros({1, 4, 8, 8}), ctx, pooled, t), std::invalid_argument);    // channels
  CHECK_THROWS_AS(model->forward(at::zeros({1, 16, 8, 8}), at::zeros({1, 10, 95}), pooled, t), std::invalid_argument);
  CHECK_THROWS_AS(model->forward(at::zeros({1, 16, 8, 8}), ctx, at::zeros({1, 63}), t), std::invalid_argument);
  CHECK_THROWS_AS(model->forward(at::zeros({1, 16, 66, 8}), ctx, pooled, t), std::invalid_argument);  // > 32 patches
  nlohmann::json j = read_json_file(test::fixture("pipelines/tiny-sd3/transformer/config.json"));
  j["qk_norm"] = "rms_norm";
  CHECK_THROWS_AS(SD3Transformer2DConfig::from_json(j), std::invalid_argument);
  j.erase("qk_norm");
  j["caption_projection_dim"] = 48;
  CHECK_THROWS_AS(SD3Transformer2DConfig::from_json(j), std::invalid_argument);
}

TEST_CASE("SD3's 16-channel VAE (no quant convs, shift_factor) decodes and encodes as diffusers", "[parity][sd3]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd3.safetensors"));
  AutoencoderKL vae = load_vae(test::fixture("pipelines/tiny-sd3/vae"), at::kFloat);
  const auto& c = vae->config();
  REQUIRE(c.latent_channels == 16);
  REQUIRE(c.shift_factor.has_value());
  CHECK(*c.shift_factor == 0.0609);
  CHECK(c.scaling_factor == 1.5305);
  CHECK_FALSE(c.use_quant_conv);
  at::Tensor z = ref.get("vae.decode.latents") / c.scaling_factor + *c.shift_factor;
  expect_close("vae.decode.latents_input", z, ref.get("vae.decode.latents_input"));
  expect_close("vae.decode.image", vae->decode(z), ref.get("vae.decode.image"));
  LatentDistribution d = vae->encode(ref.get("vae.encode.image"));
  expect_close("vae.encode.mean", d.mean, ref.get("vae.encode.mean"));
  expect_close("vae.encode.logvar", d.logvar, ref.get("vae.encode.logvar"));
  expect_close("vae.encode.latents_mode_scaled", (d.mean - *c.shift_factor) * c.scaling_factor,
               ref.get("vae.encode.latents_mode_scaled"));
}
