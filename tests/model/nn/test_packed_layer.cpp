// One copy of a layer's weight (packed_layer.h): a Linear/Conv2d packed by the CPU fast path holds
// only the packed weight (its parameter a meta placeholder of the same shape and dtype), gives the
// products of the plain path, and comes back to the exact plain values for writes, device/dtype
// moves and state-dict reads; fp16-stored weights compute in fp32 without changing the stored weight.
#include <catch.hpp>

#include <c10/core/InferenceMode.h>

#include "model/nn/layers.h"

using namespace sdw;

namespace {

// Restores the prepack flag a test changes.
struct PrepackFlag {
  bool was = nn::cpu_prepack_enabled();
  ~PrepackFlag() { nn::set_cpu_prepack(was); }
};

double rel_error(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(1.0, b.abs().max().item<double>());
}

}  // namespace

TEST_CASE("a packed Linear and Conv2d hold one copy, match the plain path and unpack exactly", "[nn]") {
  if (!nn::cpu_onednn_enabled()) return;  // no oneDNN in this libtorch: nothing is ever packed
  PrepackFlag flag;
  c10::InferenceMode guard;
  // 64 rows x 256 -> 256: over the oneDNN threshold (4M multiply-adds), under the prepack one (256 rows).
  nn::Linear linear(256, 256, true, at::TensorOptions());
  linear->weight.normal_();
  linear->bias.normal_();
  nn::Conv2d conv(32, 48, 3, 1, 1, true, at::TensorOptions());
  conv->weight.normal_();
  conv->bias.normal_();
  const at::Tensor lw = linear->weight.clone(), cw = conv->weight.clone();
  const at::Tensor xl = at::randn({4, 16, 256});  // [B, T, in]
  const at::Tensor xc = at::randn({1, 32, 8, 8});  // 64 output pixels

  nn::set_cpu_prepack(false);
  const at::Tensor yl = linear->forward(xl), yc = conv->forward(xc);  // the plain oneDNN path
  CHECK_FALSE(linear->packed());
  CHECK_FALSE(conv->packed());
  CHECK(nn::packed_layer_count(*conv) == 0);

  nn::set_cpu_prepack(true);
  CHECK(rel_error(linear->forward(xl), yl) < 1e-5);
  CHECK(rel_error(conv->forward(xc), yc) < 1e-5);
  for (nn::PackedLayer* layer : {static_cast<nn::PackedLayer*>(linear.get()), static_cast<nn::PackedLayer*>(conv.get())}) {
    CHECK(layer->packed());
    // The plain weight is gone: the parameter is a placeholder with its shape and dtype.
    const at::Tensor p = layer->named_parameters()["weight"];
    CHECK(p.device().is_meta());
    CHECK(p.scalar_type() == at::kFloat);
  }
  CHECK(linear->named_parameters()["weight"].sizes() == lw.sizes());
  CHECK(conv->named_parameters()["weight"].sizes() == cw.sizes());
  // Held: the packed copy only (a 256x256 weight needs no block padding).
  CHECK(linear->weight_bytes_held() == lw.numel() * 4);
  // Larger inputs run on the packed weight too.
  const at::Tensor big = at::randn({2, 32, 24, 24});  // 1152 output pixels
  CHECK(rel_error(conv->forward(big), at::conv2d(big, cw, conv->bias, 1, 1)) < 1e-5);
  const at::Tensor rows300 = at::randn({1, 300, 256});
  CHECK(rel_error(linear->forward(rows300), at::linear(rows300, lw, linear->bias)) < 1e-5);

  // Plain values back, exactly, for reads and writes; the next small product packs again.
  nn::unpack_weights(*conv);
  CHECK_FALSE(conv->packed());
  CHECK(at::equal(conv->weight, cw));
  CHECK(at::equal(conv->named_parameters()["weight"], cw));
  conv->weight.mul_(2);
  CHECK(rel_error(conv->forward(xc), at::conv2d(xc, cw * 2, conv->bias, 1, 1)) < 1e-5);
  CHECK(conv->packed());

  // A dtype move unpacks first.
  linear->to(at::kDouble);
  CHECK_FALSE(linear->packed());
  CHECK(at::equal(linear->weight, lw.to(at::kDouble)));
}

TEST_CASE("fp16-stored weights: fp32 products with the weight converted per call, the weight stays fp16", "[nn]") {
  c10::InferenceMode guard;
  nn::Linear linear(256, 256, true, at::TensorOptions().dtype(at::kHalf));
  linear->weight.copy_(at::randn({256, 256}) * 0.1);
  linear->bias.copy_(at::randn({256}) * 0.1);
  nn::Conv2d conv(32, 48, 3, 1, 1, true, at::TensorOptions().dtype(at::kHalf));
  conv->weight.copy_(at::randn({48, 32, 3, 3}) * 0.1);
  conv->bias.copy_(at::randn({48}) * 0.1);
  nn::Embedding emb(10, 8, at::TensorOptions().dtype(at::kHalf));
  emb->weight.copy_(at::randn({10, 8}));

  const at::Tensor xl = at::randn({4, 16, 256}), xc = at::randn({1, 32, 8, 8});
  const at::Tensor yl = linear->forward(xl), yc = conv->forward(xc);
  CHECK(yl.scalar_type() == at::kFloat);
  CHECK(yc.scalar_type() == at::kFloat);
  // Exactly the fp32 product of the fp16 values (up to fp32 rounding).
  CHECK(rel_error(yl, at::linear(xl, linear->weight.to(at::kFloat), linear->bias.to(at::kFloat))) < 1e-5);
  CHECK(rel_error(yc, at::conv2d(xc, conv->weight.to(at::kFloat), conv->bias.to(at::kFloat), 1, 1)) < 1e-5);
  CHECK(emb->forward(at::arange(3)).scalar_type() == at::kFloat);
  // Stored in fp16, never packed or widened.
  CHECK_FALSE(linear->packed());
  CHECK_FALSE(conv->packed());
  CHECK(linear->weight.scalar_type() == at::kHalf);
  CHECK(conv->weight.scalar_type() == at::kHalf);
  CHECK(linear->weight_bytes_held() == 256 * 256 * 2);
}
