// GroupNorm followed by its activation, as every ResnetBlock2D (norm1/norm2) and the UNet's and
// VAE's conv_norm_out use them. On the CPU, fp32 GroupNorm + SiLU runs fused: one pass over each
// group for its moments, one that normalises, applies the affine and SiLU and writes the output,
// instead of libtorch's GroupNorm (two passes and a write) and an in-place SiLU (another read and
// write). At 512x512 the VAE decode spent 0.54 s in GroupNorm and 0.19 s in SiLU of 7.4 s, most of
// it over [1, 128, 512, 512] maps, at about 7 GB/s (docs/memory.md). The moments are summed in
// double (libtorch: float), the sigmoid is 1 / (1 + e^-|y|) with the AVX-512 exp of
// exp_avx512.h: results within a few float ulps of at::silu(at::group_norm(...))
// (test_group_norm_silu). Elsewhere (other dtypes, devices, activations, CPUs without AVX-512)
// the unfused pair runs.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "model/nn/layers.h"

namespace sdw::nn {

// On by default where the CPU has AVX-512; `SDW_CPU_FUSED_NORM=0` or set_cpu_fused_norm(false)
// runs GroupNorm and the activation one after the other.
bool cpu_fused_norm_enabled();
void set_cpu_fused_norm(bool enabled);

// activation_(act, norm(x)): fused where the rules above allow.
at::Tensor norm_activation(GroupNorm& norm, const std::string& act, const at::Tensor& x);
// The same, written over x where fused (the caller's x is a fresh buffer it no longer needs: a
// resnet's conv1 output, the up path's last output). In place, the fused pass writes no new
// buffer: a fresh [1, 128, 512, 512] output cost 45 ms of page faults against a 10 ms pass.
at::Tensor norm_activation_(GroupNorm& norm, const std::string& act, const at::Tensor& x);

// The fused kernel: x [N, C, ...] fp32 contiguous on the CPU, C divisible by `groups`, weight and
// bias [C] fp32 -> silu(group_norm(x)), into x itself when `in_place`. Undefined where the build or
// CPU cannot run it (x untouched).
at::Tensor cpu_group_norm_silu(const at::Tensor& x, int64_t groups, const at::Tensor& weight, const at::Tensor& bias,
                               double eps, bool in_place = false);

}  // namespace sdw::nn
