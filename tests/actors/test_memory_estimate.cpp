// Memory estimates (actors/memory_estimate.h): weights from the safetensors headers plus
// activations, the CPU fast path's packed copies and Winograd buffer per dtype and device, the
// weights a generation leaves held against the estimate, and SDXL folders, refiners and single
// files.
#include <catch.hpp>

#include <map>

#include "actors/memory_estimate.h"
#include "model/nn/layers.h"
#include "model/nn/packed_layer.h"
#include "model/nn/winograd_conv.h"
#include "model/pipeline/generate.h"
#include "model/safetensors/safetensors.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::actors;

TEST_CASE("memory estimates: weights from the safetensors headers plus activations", "[actors]") {
  CHECK(mem_available_bytes() > 0);
  const std::string folder = test::fixture("pipelines/tiny-sd15");
  MemoryEstimate e = estimate_folder(folder, at::kFloat);
  auto model = load_diffusers_model(folder, {});
  // The headers count every stored tensor; the model counts its parameters.
  CHECK(e.weight_bytes >= model->weight_bytes());
  CHECK(e.weight_bytes < model->weight_bytes() * 11 / 10);
  CHECK(e.activation_bytes > 0);
  CHECK(estimate_folder(folder, at::kHalf).weight_bytes < e.weight_bytes);
  // SD1.5 at 512x512, fp32: the 8-head attention over 4096 tokens with CFG dominates (~2 GiB).
  nlohmann::json unet{{"block_out_channels", {320, 640, 1280, 1280}},
                      {"down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
                      {"attention_head_dim", 8}};
  nlohmann::json vae{{"block_out_channels", {128, 256, 512, 512}}};
  const int64_t act = activation_bytes(unet, vae, 512, 512, 4);
  CHECK(act > (int64_t{2} << 30));
  CHECK(act < (int64_t{3} << 30));
  CHECK(activation_bytes(unet, vae, 512, 512, 2) < act);
  CHECK(MemoryEstimate{1 << 30, 1 << 29}.describe() == "1.50 GiB (weights 1.00 GiB + activations 512.0 MiB)");

  // The CPU fast path (nn/packed_layer.h): packed weights replace the plain ones, so it adds their
  // block padding and two more copies of the largest layer while it is packed, for fp32 (and bf16
  // on the mixed path) on the CPU while prepacking is on, never for the VAE or other devices;
  // fp16-stored weights add the largest layer in fp32 and its reorder. The mixed bf16 and
  // fp16-stored paths' activations are fp32 (twice the 16-bit estimate).
  int64_t unet_te = 0;
  for (const torch::nn::Module* m : {static_cast<const torch::nn::Module*>(model->text_encoder.get()),
                                     static_cast<const torch::nn::Module*>(model->unet.get())})
    for (const auto& p : m->parameters()) unet_te += p.numel() * p.element_size();
  CHECK(e.prepackable_bytes >= unet_te);
  CHECK(e.prepackable_bytes < unet_te * 11 / 10);
  const bool was = nn::cpu_prepack_enabled();
  nn::set_cpu_prepack(true);
  MemoryEstimate cpu = e;
  add_cpu_prepack(cpu, at::kCPU, at::kFloat);
  CHECK(e.largest_prepackable_bytes > 0);
  CHECK(e.largest_prepackable_bytes < e.prepackable_bytes);
  const int64_t fast_path = e.prepack_padding_bytes + 2 * e.largest_prepackable_bytes;
  // fp32 and fp16-stored products also hold one Winograd work buffer (nn/winograd_conv.h): its
  // bound, or two fp32 copies of the largest layer where that is less (this tiny model).
  const int64_t winograd =
      nn::cpu_winograd_enabled() ? std::min<int64_t>(nn::kWinogradWorkBytesBound, 2 * e.largest_prepackable_bytes) : 0;
  CHECK(winograd < nn::kWinogradWorkBytesBound);
  CHECK(cpu.prepack_bytes == (nn::cpu_onednn_enabled() ? fast_path : 0) + winograd);
  CHECK(cpu.total() == e.total() + cpu.prepack_bytes);
  MemoryEstimate half = e;
  add_cpu_prepack(half, at::kCPU, at::kHalf);
  // fp16: the same layer bytes count as half an fp32 layer, so four copies.
  const int64_t winograd_half =
      nn::cpu_winograd_enabled() ? std::min<int64_t>(nn::kWinogradWorkBytesBound, 4 * e.largest_prepackable_bytes) : 0;
  CHECK(half.prepack_bytes == 4 * e.largest_prepackable_bytes + winograd_half);
  CHECK(half.activation_bytes == 2 * e.activation_bytes);
  MemoryEstimate bf16 = e;
  add_cpu_prepack(bf16, at::kCPU, at::kBFloat16);
  const bool mixed = nn::cpu_onednn_enabled() && nn::onednn_bf16_supported();
  // Without oneDNN's bf16 kernels bf16 weights are stored like fp16 ones (per-product fp32 copies).
  const bool stored = !nn::onednn_bf16_supported();
  CHECK(bf16.prepack_bytes == (mixed ? fast_path : stored ? half.prepack_bytes : 0));
  CHECK(bf16.activation_bytes == (mixed || stored ? 2 : 1) * e.activation_bytes);
  MemoryEstimate gpu = e;
  add_cpu_prepack(gpu, at::Device("cuda:0"), at::kBFloat16);
  CHECK(gpu.prepack_bytes == 0);
  CHECK(gpu.activation_bytes == e.activation_bytes);
  nn::set_cpu_prepack(false);
  MemoryEstimate off = e;
  add_cpu_prepack(off, at::kCPU, at::kFloat);
  CHECK(off.prepack_bytes == winograd);
  nn::set_cpu_prepack(was);
  MemoryEstimate shown{1 << 30, 1 << 29};
  shown.prepack_bytes = 1 << 28;
  CHECK(shown.describe() == "1.75 GiB (weights 1.00 GiB + activations 512.0 MiB + CPU fast path up to 256.0 MiB)");
}

TEST_CASE("the memory estimate covers the weights a generation leaves held, packed copies included", "[actors]") {
  if (!nn::cpu_onednn_enabled() || !nn::cpu_prepack_enabled()) return;  // nothing is ever packed here
  const std::string folder = test::fixture("pipelines/tiny-sd15");
  MemoryEstimate e = estimate_folder(folder, at::kFloat);
  add_cpu_prepack(e, at::kCPU, at::kFloat);
  auto model = load_diffusers_model(folder, {});
  auto held = [&] {
    return nn::held_parameter_bytes(*model->text_encoder) + nn::held_parameter_bytes(*model->unet) +
           nn::held_parameter_bytes(*model->vae);
  };
  const int64_t plain = held();
  CHECK(plain == model->weight_bytes());
  GenerationRequest req;
  req.prompt = "a cat";
  req.width = req.height = 32;  // latents 16x16: the tiny UNet's second level (8x8 x CFG batch 2) packs
  req.steps = 2;
  generate(*model, req);
  const int64_t packed = nn::packed_layer_count(*model->unet) + nn::packed_layer_count(*model->vae);
  INFO("packed layers " << packed << ", held " << held() << " bytes, plain " << plain << ", estimate " << e.describe());
  CHECK(packed > 0);
  // The packed weights replaced the plain ones: what is held grows by the block padding only.
  CHECK(held() - plain <= e.prepack_padding_bytes);
  CHECK(held() < plain + plain / 2);  // never a second copy
  CHECK(held() <= e.weight_bytes + e.prepack_bytes);
}

TEST_CASE("SDXL memory estimates: both text encoders, a refiner without the first, SDXL single files at 1024", "[actors][sdxl]") {
  const std::string folder = test::fixture("pipelines/tiny-sdxl");
  auto model = load_diffusers_model(folder, {});
  const MemoryEstimate e = estimate_folder(folder, at::kFloat);
  CHECK(e.weight_bytes >= model->weight_bytes());  // text_encoder_2 included
  int64_t params = 0;
  for (const torch::nn::Module* m : {static_cast<const torch::nn::Module*>(model->text_encoder.get()),
                                     static_cast<const torch::nn::Module*>(model->text_encoder_2.get()),
                                     static_cast<const torch::nn::Module*>(model->unet.get())})
    for (const auto& p : m->parameters()) params += p.numel() * p.element_size();
  CHECK(estimate_model(*model).prepackable_bytes == params);
  const int64_t te1 = [&] {
    int64_t b = 0;
    for (const auto& p : model->text_encoder->parameters()) b += p.numel() * p.element_size();
    return b;
  }();
  model->text_encoder = CLIPTextModel{nullptr};  // a refiner has text_encoder_2 only
  CHECK(estimate_model(*model).prepackable_bytes == params - te1);

  // Single files: an SDXL header is estimated with SDXL's UNet at 1024x1024, an SD1 one at 512x512.
  test::TempDir tmp;
  std::map<std::string, at::Tensor> t{{"model.diffusion_model.input_blocks.0.0.weight", at::zeros({4, 4, 3, 3})},
                                      {"cond_stage_model.transformer.text_model.final_layer_norm.weight", at::zeros({4})}};
  save_safetensors(tmp.file("sd1.safetensors"), t);
  t.erase("cond_stage_model.transformer.text_model.final_layer_norm.weight");
  t["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"] = at::zeros({4});
  save_safetensors(tmp.file("xl.safetensors"), t);
  nlohmann::json xl_unet{{"block_out_channels", {320, 640, 1280}},
                         {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}},
                         {"attention_head_dim", {5, 10, 20}}};
  nlohmann::json vae{{"block_out_channels", {128, 256, 512, 512}}};
  const MemoryEstimate xl = estimate_single_file(tmp.file("xl.safetensors"), at::kFloat);
  CHECK(xl.activation_bytes == activation_bytes(xl_unet, vae, 1024, 1024, 4));
  CHECK(xl.activation_bytes > estimate_single_file(tmp.file("sd1.safetensors"), at::kFloat).activation_bytes);
}
