// Fused QKV projection (see fused_qkv.h).
#include "model/nn/fused_qkv.h"

#include <ATen/core/LegacyTypeDispatch.h>
#include <c10/core/InferenceMode.h>

#include <cstdlib>
#include <stdexcept>

#include "model/nn/attention.h"

namespace sdw::nn {
namespace {

// The plain values of a layer's weight, unpacked first if the CPU fast path packed it.
at::Tensor plain_weight(PackedLayer& layer) {
  layer.unpack();
  return layer.weights().plain;
}

// Whether `part` is row block `i` of `fused` (same storage, at its offset).
bool is_block(const at::Tensor& part, const at::Tensor& fused, int64_t i) {
  if (!part.defined() || !fused.defined() || part.device() != fused.device() || part.is_meta()) return false;
  const int64_t rows = fused.size(0) / 3;
  const auto* base = static_cast<const char*>(fused.data_ptr());
  const int64_t row_bytes = fused.numel() / fused.size(0) * static_cast<int64_t>(fused.element_size());
  return part.data_ptr() == base + i * rows * row_bytes && part.is_contiguous() && part.size(0) == rows;
}

}  // namespace

bool fuse_qkv(AttentionImpl& attn) {
  if (attn.o_.cross_attention_dim > 0) return false;  // keys and values from another input
  if (qkv_fused_now(attn)) return true;
  std::array<Linear, 3> parts{attn.to_q, attn.to_k, attn.to_v};
  for (auto& p : parts)
    if (p->weights().plain.is_meta() && !p->packed()) return false;  // weights not loaded
  // Ordinary tensors (not inference tensors), so later in-place writes work in and out of inference
  // mode, and plain aliases (no autograd view tracking), as PackedLayer::unpack makes.
  c10::InferenceMode normal(false);
  at::NoGradGuard no_grad;
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  std::vector<at::Tensor> ws, bs;
  for (auto& p : parts) {
    ws.push_back(plain_weight(*p));  // [inner, C]
    if (p->bias.defined()) bs.push_back(p->bias);
  }
  const at::Tensor& w0 = ws[0];
  Linear fused(w0.size(1), 3 * w0.size(0), !bs.empty(), w0.options());
  fused->prepack = false;  // the views below write into this storage
  at::cat_out(fused->weight, ws, 0);  // [3*inner, C]
  if (!bs.empty()) at::cat_out(fused->bias, bs, 0);  // [3*inner]
  const int64_t inner = w0.size(0);
  for (int64_t i = 0; i < 3; ++i)  // [inner, C] and [inner] views
    parts[i]->replace_weights(fused->weight.narrow(0, i * inner, inner),
                              bs.empty() ? at::Tensor() : fused->bias.narrow(0, i * inner, inner));
  attn.to_qkv = fused;
  return true;
}

void unfuse_qkv(AttentionImpl& attn) {
  if (!attn.to_qkv) return;
  if (qkv_fused_now(attn)) {
    c10::InferenceMode normal(false);
    at::NoGradGuard no_grad;
    for (Linear* p : {&attn.to_q, &attn.to_k, &attn.to_v})  // each its own storage again
      (*p)->replace_weights((*p)->weight.clone(), (*p)->bias.defined() ? (*p)->bias.clone() : at::Tensor());
  }
  attn.to_qkv = nullptr;
}

bool qkv_fused_now(const AttentionImpl& attn) {
  if (!attn.to_qkv) return false;
  const at::Tensor fw = attn.to_qkv->weights().plain, fb = attn.to_qkv->bias;
  const Linear* parts[3] = {&attn.to_q, &attn.to_k, &attn.to_v};
  for (int64_t i = 0; i < 3; ++i) {
    const auto& p = *parts[i];
    if (!is_block(p->weights().plain, fw, i)) return false;
    if (fb.defined() != p->bias.defined() || (fb.defined() && !is_block(p->bias, fb, i))) return false;
  }
  return true;
}

std::array<at::Tensor, 3> fused_qkv_forward(AttentionImpl& attn, const at::Tensor& x) {
  auto parts = attn.to_qkv->forward(x).chunk(3, -1);  // 3 x [B, L, inner], views of [B, L, 3*inner]
  return {parts[0], parts[1], parts[2]};
}

int64_t fuse_qkv_projections(torch::nn::Module& module, bool on) {
  int64_t n = 0;
  for (const auto& m : module.modules(/*include_self=*/true)) {
    auto attn = std::dynamic_pointer_cast<AttentionImpl>(m);
    if (!attn) continue;
    if (on)
      n += fuse_qkv(*attn) ? 1 : 0;
    else
      unfuse_qkv(*attn);
  }
  return n;
}

bool resolve_fuse_qkv(const std::optional<bool>& requested, const at::Device& device) {
  if (requested) return *requested;
  if (const char* env = std::getenv("SDW_FUSE_QKV"); env && *env) {
    const std::string v = env;
    if (v == "1" || v == "on" || v == "true") return true;
    if (v == "0" || v == "off" || v == "false") return false;
  }
  return device.is_cuda();
}

std::optional<bool> parse_fuse_qkv(const std::string& text) {
  if (text == "on") return true;
  if (text == "off") return false;
  if (text == "auto") return std::nullopt;
  throw std::invalid_argument("--fuse-qkv: '" + text + "' is not on, off or auto");
}

}  // namespace sdw::nn
