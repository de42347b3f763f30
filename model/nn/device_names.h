// Device and dtype names as users write them ("cpu", "cuda:1", "mps"; "fp16", "bf16", ...).
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace sdw {

// A device available in this libtorch build; std::invalid_argument (naming the valid forms)
// for unknown names and devices this build lacks.
at::Device parse_device(const std::string& text);
// "fp32"/"float32"/"float", "fp16"/"float16"/"half", "bf16"/"bfloat16".
at::ScalarType parse_dtype(const std::string& text);
const char* dtype_name(at::ScalarType type);
// A --dtype word: parse_dtype's, or "fp8": fp16 weights with the denoiser's Linear products in fp8
// (nn/fp8_linear.h; ModelLoadOptions::fp8).
struct DtypeChoice {
  at::ScalarType dtype = at::kFloat;
  bool fp8 = false;
};
DtypeChoice parse_dtype_choice(const std::string& text);
// std::invalid_argument when `choice` cannot run on `device`: fp8 needs a build with fp8 matmuls
// and a CUDA device.
void check_dtype_choice(const DtypeChoice& choice, const at::Device& device);
// std::invalid_argument when this libtorch cannot run a model of `dtype` on `device`. None today:
// fp16 on the CPU keeps fp16 weights and computes in fp32 (nn/layers.h), as libtorch 1.x has no
// Half CPU kernels for layer_norm or convolution.
void check_device_dtype(const at::Device& device, at::ScalarType dtype);

}  // namespace sdw
