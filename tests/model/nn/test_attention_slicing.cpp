// Attention slicing (diffusers' set_attention_slice / SlicedAttnProcessor) against diffusers'
// unsliced tiny-sd15 UNet forward (tests/fixtures/vae_extras/attention_slicing.*, README N.5:
// diffusers' sliced outputs are bitwise equal to its unsliced one). Tolerance: 1e-5 absolute, the
// UNet parity tolerance; sliced vs our own unsliced output: 1e-6 (float reassociation only: the
// same products per (batch, head) pair, in chunks).
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include <iostream>
#include <string>

#include "model/loading/diffusers_folder.h"
#include "model/nets/unet_2d_condition.h"
#include "model/nn/attention.h"
#include "model/nn/attention_slicing.h"
#include "test_util.h"

using namespace sdw;

TEST_CASE("attention slicing gives diffusers' unsliced UNet output", "[parity][attention][slicing]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("vae_extras/attention_slicing.safetensors"));
  auto unet = load_unet(test::fixture("pipelines/tiny-sd15/unet"), at::kFloat);
  const at::Tensor x = ref.get("in.sample"), t = ref.get("in.timesteps"), ctx = ref.get("in.encoder_hidden_states");
  const at::Tensor expected = ref.get("out.unsliced");
  const at::Tensor plain = unet->forward(x, t, ctx);
  CHECK(test::compare(plain, expected).max_abs < 1e-5);
  for (const std::string value : {"auto", "max", "1", "3", "8"}) {
    nn::set_attention_slice(*unet, value);
    int layers = 0;
    for (const auto& m : unet->modules()) {
      if (auto* a = dynamic_cast<nn::AttentionImpl*>(m.get())) {
        ++layers;
        CHECK(a->slice_size == (value == "auto" ? 4 : value == "max" ? 1 : std::stoll(value)));
      }
    }
    CHECK(layers == 12);
    const at::Tensor out = unet->forward(x, t, ctx);
    auto d = test::compare(out, expected);
    auto self = test::compare(out, plain);
    std::cout << test::describe("sliced " + value + " vs diffusers", d) << "; vs unsliced max " << self.max_abs << "\n";
    CHECK(d.max_abs < 1e-5);
    CHECK(self.max_abs < 1e-6);
  }
  nn::set_attention_slice(*unet, "none");
  CHECK(unet->forward(x, t, ctx).equal(plain));
}

TEST_CASE("attention slice values are read as diffusers reads them", "[attention][slicing]") {
  CHECK(nn::attention_slice_size("auto", 8) == 4);
  CHECK(nn::attention_slice_size("max", 8) == 1);
  CHECK(nn::attention_slice_size("3", 8) == 3);
  CHECK(nn::attention_slice_size("", 8) == 0);
  CHECK_THROWS_AS(nn::attention_slice_size("9", 8), std::invalid_argument);  // diffusers: larger than the heads
  CHECK_THROWS_AS(nn::attention_slice_size("0", 8), std::invalid_argument);
  CHECK_THROWS_AS(nn::attention_slice_size("half", 8), std::invalid_argument);
  // Sliced attention alone on random tensors (5 pairs in chunks of 2: the last chunk shorter).
  at::NoGradGuard no_grad;
  at::Tensor q = at::randn({1, 5, 7, 4}), k = at::randn({1, 5, 9, 4}), v = at::randn({1, 5, 9, 4});
  at::Tensor whole = nn::scaled_dot_product_attention(q, k, v, false, false);
  CHECK(test::compare(nn::sliced_attention(q, k, v, false, 2), whole).max_abs < 1e-6);
}
