// 3x3 convolutions on the CPU through oneDNN's Winograd F(4x4, 3x3) kernels (linked directly from
// Debian's libdnnl, the same oneDNN libtorch runs). libtorch 1.13's mkldnn_convolution always asks
// oneDNN for direct convolutions, which reach about 210 GFLOP/s on a 2-core AVX-512 machine, the
// sgemm rate: the full-size UNet's and VAE's 3x3 convolutions cannot go faster that way. Winograd
// does 2.25x fewer multiplications; measured here 2.2-3x faster for the VAE's and the UNet's
// high-resolution 3x3 convolutions, with results within 3e-6 of the direct ones relative to their
// largest value (float32 summation-order noise; the parity tests hold at their tolerances).
//
// Large inputs run in bands of output rows (each with its one-row halos), so the rows' share of
// the kernels' work buffer (input, output and their transformed tiles: ~3x the activations) stays
// under kWinogradBandBytes; weights over kWinogradMaxWeightBytes once transformed (4x their size:
// the 1280-channel levels) run in chunks of output channels. The buffer comes from a pool that
// keeps one buffer per running convolution between calls (a fresh mapping of that size every call
// costs more in page faults than Winograd saves), replaced when over twice the need; it is emptied
// when a CPU VAE decode starts and ends (cpu_allocator.h) or by release_winograd_scratch().
//
// Used by Conv2d for fp32 NCHW inputs with stride 1, padding 1, channel counts oneDNN's Winograd
// takes (multiples of 16) and at least kWinogradMinPixels output pixels (below that the weight
// transform costs more than it saves). On by default where libtorch has oneDNN and the build
// found libdnnl; `SDW_CPU_WINOGRAD=0` or set_cpu_winograd(false) turns it off.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace sdw::nn {

constexpr int64_t kWinogradMinPixels = 512;                      // N * H_out * W_out
constexpr int64_t kWinogradMaxWeightBytes = int64_t{48} << 20;   // O * C * 36 floats per chunk
constexpr int64_t kWinogradBandBytes = int64_t{16} << 20;        // a band's rows: input, output, their tiles
// The most one convolution's work buffer holds: a band, the transformed weights of a chunk (in
// the scratch, not per row) and the chunk's blocked weights. The loader's estimate adds it.
constexpr int64_t kWinogradWorkBytesBound = kWinogradBandBytes + kWinogradMaxWeightBytes + kWinogradMaxWeightBytes / 4;

bool cpu_winograd_available();  // built with libdnnl and oneDNN runs Winograd on this CPU
bool cpu_winograd_enabled();
void set_cpu_winograd(bool enabled);

// Whether conv2d(x, weight, padding, stride) takes the Winograd path (shapes and flags only).
bool winograd_conv_eligible(const at::Tensor& x, const at::Tensor& weight, int64_t padding, int64_t stride);
// x [N, C, H, W] fp32 contiguous, weight [O, C, 3, 3] fp32, bias [O] or undefined -> [N, O, H, W]
// (stride 1, padding 1). Undefined when oneDNN offers no Winograd kernel for these shapes (the
// caller then runs its direct path). `band_bytes`: the budget of one band (tests force small ones).
at::Tensor winograd_conv2d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           int64_t band_bytes = kWinogradBandBytes);

// Bytes of scratch buffers the pool holds now, and handing them back.
int64_t winograd_scratch_bytes();
void release_winograd_scratch();

}  // namespace sdw::nn
