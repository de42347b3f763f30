// Fused QKV projection for self-attention: the query, key and value weights of one Attention
// ([inner, C] each) become rows of one [3*inner, C] tensor, so q, k and v come from one matrix
// product whose [B, L, 3*inner] result is split by `chunk` (views, no copies), as diffusers'
// `fuse_qkv_projections`. Only self-attention is fused (keys and values from the same input):
// BasicTransformerBlock's attn1 and the VAE's mid-block attention; cross-attention is untouched.
//
// One copy of the weights: to_q/to_k/to_v keep their parameters (checkpoint names, strict loading,
// state-dict reads and LoRA targets see `...attn1.to_q.weight` as before), but after fusing those
// parameters are views into the fused tensor (PackedLayer::replace_weights; row blocks 0, 1, 2).
// LoRA fusing and restoring write the views in place (lora_state.h), so the fused weight follows
// every LoRA change with nothing rebuilt, and its storage stays put (CUDA graphs captured on it
// stay valid). The fused layer is never packed for the CPU fast path (packing would drop the plain
// storage the views write into; nn/packed_layer.h).
//
// Each forward checks that the three parameters are still those views (their data pointers); if
// anything replaced one (a device or dtype move, a layer packed or unpacked, a reload), that call
// runs the three separate projections instead, so a stale fused weight is never used. Fusing
// again (`fuse_qkv_projections`) re-links them.
//
// Default: on for CUDA; on the CPU off (measured: docs/speed_options.md, "Fused QKV projection").
// SDW_FUSE_QKV=0/1 (or `--fuse-qkv on|off|auto`, ModelLoadOptions::fuse_qkv) overrides.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <array>
#include <optional>
#include <string>

namespace sdw::nn {

class AttentionImpl;

// Fuses (`on`) or unfuses every self-attention Attention under `module`; returns how many are
// fused afterwards. Layers whose weights are not materialised (meta device) are left unfused.
int64_t fuse_qkv_projections(torch::nn::Module& module, bool on);
// Fuses one attention (false: cross-attention or meta weights, left as it is) / unfuses it.
bool fuse_qkv(AttentionImpl& attn);
void unfuse_qkv(AttentionImpl& attn);
// True when `attn` has a fused weight and to_q/to_k/to_v are still views into it.
bool qkv_fused_now(const AttentionImpl& attn);
// q, k, v [B, L, inner] from one product over `x` [B, L, C] (views of one [B, L, 3*inner] buffer).
// Only while qkv_fused_now(attn).
std::array<at::Tensor, 3> fused_qkv_forward(AttentionImpl& attn, const at::Tensor& x);

// The setting in force: the explicit choice, else SDW_FUSE_QKV (0/1, off/on), else on for CUDA only.
bool resolve_fuse_qkv(const std::optional<bool>& requested, const at::Device& device);
// "on" / "off" / "auto" (CLI) -> true / false / nullopt; throws std::invalid_argument otherwise.
std::optional<bool> parse_fuse_qkv(const std::string& text);

}  // namespace sdw::nn
