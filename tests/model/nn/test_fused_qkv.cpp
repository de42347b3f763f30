// Fused QKV projections (nn/fused_qkv.h): one [3*inner, C] product gives the three separate
// projections' attention output (fp32 rounding only), for the transformer's self-attention and
// the VAE's spatial form (bias, group norm, residual); the parameters keep their names and values
// and become views of the fused weight; a layer whose view was replaced falls back to the separate
// projections; whole tiny UNets and a VAE still match the diffusers fixtures with fusing on; and a
// LoRA fused into to_q/to_k/to_v and then removed gives the unfused model's outputs.
#include <catch.hpp>

#include <ATen/record_function.h>
#include <c10/core/InferenceMode.h>

#include <atomic>
#include <cstring>
#include <iostream>
#include <functional>
#include <map>

#include "model/loading/diffusers_folder.h"
#include "model/nn/attention.h"
#include "model/nn/fused_qkv.h"
#include "model/pipeline/model_loras.h"
#include "test_util.h"

using namespace sdw;

namespace {

double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

// The matrix products `fn` runs (at::linear, and oneDNN's convolutions, which the CPU fast path's
// products are; nn/layers.h), counted by a RecordFunction callback on this thread.
int64_t products(const std::function<void()>& fn) {
  static std::atomic<int64_t> count{0};
  count = 0;
  auto handle = at::addThreadLocalCallback(at::RecordFunctionCallback(
      [](const at::RecordFunction& f) -> std::unique_ptr<at::ObserverContext> {
        if (std::strcmp(f.name(), "aten::linear") == 0 || std::strcmp(f.name(), "aten::mkldnn_convolution") == 0) ++count;
        return nullptr;
      }));
  fn();
  at::removeCallback(handle);
  return count;
}

nn::Attention random_attention(const nn::AttentionOptions& o) {
  nn::Attention attn(o, at::TensorOptions());
  for (auto& p : attn->parameters()) p.copy_(at::randn(p.sizes()) * 0.1);
  return attn;
}

std::map<std::string, at::Tensor> params(torch::nn::Module& m) {
  std::map<std::string, at::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().clone();
  return out;
}

// The UNet's output for the fixture's seeded inputs (integer timesteps).
at::Tensor unet_out(UNet2DConditionModel& unet, const SafetensorsFile& ref) {
  UNetAddedCond added;
  if (ref.contains("unet.added_text_embeds")) {
    added.text_embeds = ref.get("unet.added_text_embeds");
    added.time_ids = ref.get("unet.added_time_ids");
  }
  return unet->forward(ref.get("unet.sample"), ref.get("unet.timesteps_int"), ref.get("unet.encoder_hidden_states"), added);
}

}  // namespace

TEST_CASE("fused self-attention gives the separate projections' output; names and values stay", "[nn][fused_qkv]") {
  c10::InferenceMode guard;
  nn::AttentionOptions self;  // BasicTransformerBlock's attn1
  self.query_dim = 128;
  self.heads = 4;
  self.dim_head = 32;
  nn::AttentionOptions vae = self;  // the VAE's mid-block attention: bias, group norm, residual, [B, C, H, W]
  vae.heads = 1;
  vae.dim_head = 128;
  vae.qkv_bias = true;
  vae.norm_num_groups = 32;
  vae.residual_connection = true;
  // 2 x 256 rows: the oneDNN path of the CPU fast path (nn/layers.h); 2 x 16 x 16 pixels likewise.
  for (const auto& [name, o, x] : std::vector<std::tuple<std::string, nn::AttentionOptions, at::Tensor>>{
           {"attn1", self, at::randn({2, 256, 128})}, {"vae mid-block", vae, at::randn({2, 128, 16, 16})}}) {
    INFO(name);
    nn::Attention attn = random_attention(o);
    at::Tensor before, fused;
    const int64_t separate = products([&] { before = attn->forward(x); });
    const auto values = params(*attn);
    REQUIRE(nn::fuse_qkv(*attn));
    REQUIRE(nn::qkv_fused_now(*attn));
    CHECK(products([&] { fused = attn->forward(x); }) == separate - 2);  // one projection instead of three
    const double d = max_diff(fused, before);
    std::cout << name << " fused vs unfused attention: max |diff| " << d << " (max |out| "
              << before.abs().max().item<double>() << ")\n";
    CHECK(d < 1e-5);
    // Same parameter names and values; q, k, v are views of the fused weight.
    const auto after = params(*attn);
    REQUIRE(after.size() == values.size());
    for (const auto& [key, t] : values) CHECK(at::equal(after.at(key), t));
    CHECK(attn->to_k->weight.data_ptr() ==
          static_cast<char*>(attn->to_qkv->weight.data_ptr()) + attn->to_q->weight.numel() * 4);
    // In-place writes to to_v (what LoRA fusing does) reach the fused product.
    attn->to_v->weight.mul_(2.0);
    const at::Tensor doubled = attn->forward(x);
    nn::unfuse_qkv(*attn);
    CHECK_FALSE(nn::qkv_fused_now(*attn));
    CHECK(max_diff(attn->forward(x), doubled) < 1e-5);
    CHECK(max_diff(doubled, before) > 1e-3);
  }
}

TEST_CASE("a fused attention whose view was replaced runs the separate projections", "[nn][fused_qkv]") {
  c10::InferenceMode guard;
  nn::AttentionOptions o;
  o.query_dim = 64;
  o.heads = 2;
  o.dim_head = 32;
  nn::Attention attn = random_attention(o);
  const at::Tensor x = at::randn({1, 64, 64});
  const at::Tensor before = attn->forward(x);
  REQUIRE(nn::fuse_qkv(*attn));
  // to_q's weight replaced by another tensor (as a device move, a reload or packing would do), then written.
  attn->to_q->weight.set_data(attn->to_q->weight.clone());
  CHECK_FALSE(nn::qkv_fused_now(*attn));
  attn->to_q->weight.mul_(-1.0);
  nn::Attention ref = random_attention(o);
  for (const auto& p : attn->named_parameters()) ref->named_parameters()[p.key()].copy_(p.value());
  const at::Tensor expected = ref->forward(x);  // never fused
  CHECK(max_diff(attn->forward(x), expected) < 1e-6);
  CHECK(max_diff(expected, before) > 1e-3);
  // Fusing again links the current weights.
  REQUIRE(nn::fuse_qkv(*attn));
  CHECK(nn::qkv_fused_now(*attn));
  CHECK(max_diff(attn->forward(x), expected) < 1e-5);
}

TEST_CASE("cross-attention is left unfused; the switch resolves explicit, env, then device", "[nn][fused_qkv]") {
  c10::InferenceMode guard;
  nn::AttentionOptions o;
  o.query_dim = 32;
  o.cross_attention_dim = 48;
  nn::Attention attn = random_attention(o);
  CHECK_FALSE(nn::fuse_qkv(*attn));
  CHECK_FALSE(attn->to_qkv);
  CHECK(nn::parse_fuse_qkv("on") == std::optional<bool>(true));
  CHECK(nn::parse_fuse_qkv("off") == std::optional<bool>(false));
  CHECK_FALSE(nn::parse_fuse_qkv("auto").has_value());
  CHECK_THROWS_AS(nn::parse_fuse_qkv("yes"), std::invalid_argument);
  CHECK(nn::resolve_fuse_qkv(true, at::kCPU));
  CHECK_FALSE(nn::resolve_fuse_qkv(false, at::Device(at::kCUDA, 0)));
}

TEST_CASE("tiny UNets and a VAE with fused QKV match diffusers and the unfused forward", "[parity][fused_qkv]") {
  c10::InferenceMode guard;
  for (const std::string pipeline : {"tiny-sd15", "tiny-sd21v", "tiny-sdxl"}) {
    INFO(pipeline);
    auto ref = SafetensorsFile::open(test::fixture("references/" + pipeline + ".safetensors"));
    auto unet = load_unet(test::fixture("pipelines/" + pipeline + "/unet"), at::kFloat);
    const at::Tensor unfused = unet_out(unet, ref);
    const int64_t n = nn::fuse_qkv_projections(*unet, true);
    CHECK(n > 0);
    const at::Tensor fused = unet_out(unet, ref);
    const auto d = test::compare(fused, ref.get("unet.out_int"));
    std::cout << test::describe(pipeline + " fused-QKV unet (" + std::to_string(n) + " fused) vs diffusers", d)
              << "; vs unfused max |diff| " << max_diff(fused, unfused) << "\n";
    CHECK(d.max_abs < 1e-5);
    CHECK(max_diff(fused, unfused) < 1e-5);
  }
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd15.safetensors"));
  auto vae = load_vae(test::fixture("pipelines/tiny-sd15/vae"), at::kFloat);
  CHECK(nn::fuse_qkv_projections(*vae, true) >= 1);  // the mid-block attention
  const at::Tensor image = vae->decode(ref.get("vae.decode.latents_scaled") / vae->config().scaling_factor);
  const auto d = test::compare(image, ref.get("vae.decode.image"));
  std::cout << test::describe("tiny-sd15 fused-QKV vae decode vs diffusers", d) << "\n";
  CHECK(d.max_abs < 1e-5);
}

TEST_CASE("a LoRA fused into to_q/to_k/to_v and removed: fused and unfused models agree", "[lora][fused_qkv]") {
  c10::InferenceMode guard;
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd15.safetensors"));
  ModelLoadOptions on, off;
  on.fuse_qkv = true;
  off.fuse_qkv = false;
  auto fused = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), on);
  auto plain = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), off);
  REQUIRE(fused->fuse_qkv);
  REQUIRE_FALSE(plain->fuse_qkv);
  auto attn1 = fused->unet->named_modules()["down_blocks.0.attentions.0.transformer_blocks.0.attn1"];
  auto& attn = dynamic_cast<nn::AttentionImpl&>(*attn1);
  REQUIRE(nn::qkv_fused_now(attn));
  const at::Tensor base = unet_out(fused->unet, ref);
  CHECK(max_diff(base, unet_out(plain->unet, ref)) < 1e-5);
  LoraCache cache(int64_t{64} << 20);
  const std::vector<LoraUse> loras{LoraUse{test::fixture("lora/sd15_A.peft.safetensors"), 1.0}};
  const auto stats = apply_request_loras(*fused, loras, cache);
  apply_request_loras(*plain, loras, cache);
  CHECK(stats.tensors > 0);
  CHECK(nn::qkv_fused_now(attn));  // written in place: still the views of the fused weight
  const at::Tensor with_fused = unet_out(fused->unet, ref), with_plain = unet_out(plain->unet, ref);
  const double d = max_diff(with_fused, with_plain);
  std::cout << "tiny-sd15 + LoRA sd15_A: fused vs unfused UNet max |diff| " << d << ", LoRA effect "
            << max_diff(with_plain, base) << "\n";
  CHECK(d < 1e-5);
  CHECK(max_diff(with_plain, base) > 1e-3);
  apply_request_loras(*fused, {}, cache);
  apply_request_loras(*plain, {}, cache);
  CHECK(nn::qkv_fused_now(attn));
  CHECK(at::equal(unet_out(fused->unet, ref), base));  // the base weights byte for byte, fused again
  CHECK(max_diff(unet_out(plain->unet, ref), base) < 1e-5);
}
