// Sequential offload at the layer level (model/nn/weight_stream.h): a model whose weights stay on
// the CPU runs on inputs held on another device, every layer bringing its weights to the input's
// device for its own call. This machine has no GPU, so the other device is PyTorch's meta device
// (shapes and dtypes only, no data): a layer left reading its CPU weights would mix devices and
// throw, or leave its result on the CPU. Each call streams exactly its layer's weight bytes. libtorch
// 1.13 has meta kernels for the Linear's product only; the other layers call the same function.
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include "model/loading/controlnet_folder.h"
#include "model/loading/diffusers_folder.h"
#include "model/nets/sd3_transformer_2d.h"
#include "model/nets/t5_encoder.h"
#include "model/nn/layers.h"
#include "model/nn/weight_stream.h"
#include "model/pipeline/sd3_components.h"
#include "test_util.h"

using namespace sdw;

namespace {

int64_t parameter_bytes(const torch::nn::Module& m) {
  int64_t total = 0;
  for (const auto& p : m.parameters()) total += p.numel() * p.element_size();
  return total;
}

const at::Device kMeta(at::kMeta);

}  // namespace

TEST_CASE("a layer brings weights held on another device to its input's device", "[nn][offload]") {
  at::NoGradGuard no_grad;
  nn::Linear linear(8, 4, true, at::TensorOptions().dtype(at::kFloat));
  const int64_t before = nn::streamed_weight_bytes();
  at::Tensor y = linear->forward(at::empty({3, 8}, at::TensorOptions().device(kMeta)));
  CHECK(y.device() == kMeta);
  CHECK(y.sizes() == at::IntArrayRef({3, 4}));
  CHECK(nn::streamed_weight_bytes() - before == (8 * 4 + 4) * 4);
  CHECK(linear->weight.device().is_cpu());  // the parameter itself never moves
  // On the weights' own device nothing is copied.
  const int64_t cpu_before = nn::streamed_weight_bytes();
  linear->weight.normal_();
  linear->bias.zero_();
  linear->forward(at::randn({3, 8}));
  CHECK(nn::streamed_weight_bytes() == cpu_before);
}

// Whole networks are checked by structure: every parameter they hold belongs to a
// leaf layer that streams (layers.h) or to T5's RMS norm, which does the same.
TEST_CASE("every parameter of the networks belongs to a layer that streams its weights", "[nn][offload]") {
  const std::string sd15 = test::fixture("pipelines/tiny-sd15"), sd3 = test::fixture("pipelines/tiny-sd3");
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  std::vector<std::shared_ptr<torch::nn::Module>> nets{
      load_unet(sd15 + "/unet", f32).ptr(),
      load_vae(sd15 + "/vae", f32).ptr(),
      load_text_encoder(sd15 + "/text_encoder", f32).ptr(),
      load_controlnet(test::fixture("controlnet/tiny-controlnet-sd15"), f32).ptr(),
      load_sd3_transformer(sd3 + "/transformer", f32).ptr(),
      load_t5_encoder(sd3 + "/text_encoder_3", f32).ptr()};
  for (const auto& net : nets) {
    int64_t owners = 0;
    for (const auto& item : net->named_modules()) {
      const torch::nn::Module& m = *item.value();
      if (m.named_parameters(/*recurse=*/false).is_empty() && m.named_buffers(/*recurse=*/false).is_empty()) continue;
      ++owners;
      // SD3's position table is a buffer its patch embedding moves to the input's device itself.
      const bool streams = dynamic_cast<const nn::LinearImpl*>(&m) || dynamic_cast<const nn::Conv2dImpl*>(&m) ||
                           dynamic_cast<const nn::GroupNormImpl*>(&m) || dynamic_cast<const nn::LayerNormImpl*>(&m) ||
                           dynamic_cast<const nn::EmbeddingImpl*>(&m) || dynamic_cast<const T5LayerNormImpl*>(&m) ||
                           dynamic_cast<const SD3PatchEmbedImpl*>(&m);
      INFO(net->name() << " " << item.key());
      CHECK(streams);
    }
    CHECK(owners > 0);
  }
}
