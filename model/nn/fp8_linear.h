// fp8 products for Linear layers (issue 26, `--dtype fp8`): on GPUs with fp8 tensor cores (sm_89+:
// L4, H100, H200), a Linear keeps a float8_e4m3fn copy of its weight with one scale per tensor
// (amax / 448), and each call quantizes its input the same way (its own amax, on the device, so
// CUDA graphs can capture it) and multiplies through at::_scaled_mm, the result in the input's
// dtype (fp16), the bias added after. Layers whose sizes _scaled_mm does not take (in or out not
// a multiple of 16) stay fp16. Needs a libtorch with fp8 tensors and the 8-argument _scaled_mm
// (PyTorch 2.4+): CMake compiles this file against the found libtorch at configure time
// (model/CMakeLists.txt) and builds it without fp8 where that fails (Debian's 1.13), where every
// entry point throws std::invalid_argument saying so.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cstdint>

namespace sdw::nn {

// True when this build has the fp8 path (SDW_WITH_FP8).
bool fp8_compiled();

struct Fp8Weight {
  at::Tensor q;      // [out, in] float8_e4m3fn, row-major (its .t() is the column-major operand)
  at::Tensor scale;  // [] float32: weight = q * scale
};

// w [out, in] (fp16/bf16 on a CUDA device) -> its fp8 copy and scale.
Fp8Weight quantize_fp8(const at::Tensor& w);

// x [..., in] (fp16/bf16) times the fp8 weight's transpose, plus `bias` -> [..., out] in x's dtype.
at::Tensor fp8_linear(const at::Tensor& x, const Fp8Weight& w, const at::Tensor& bias);

// Gives every Linear under `module` whose weight is on a CUDA device with sizes _scaled_mm takes
// an fp8 copy (LinearImpl::fp8), after checking with one small product that this GPU runs fp8;
// returns how many layers. Throws std::invalid_argument naming what is missing (the build's
// libtorch, the GPU).
int64_t quantize_linears_fp8(torch::nn::Module& module);

}  // namespace sdw::nn
