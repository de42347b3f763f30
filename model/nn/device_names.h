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
// std::invalid_argument when this libtorch cannot run a model of `dtype` on `device`. None today:
// fp16 on the CPU keeps fp16 weights and computes in fp32 (nn/layers.h), as libtorch 1.x has no
// Half CPU kernels for layer_norm or convolution.
void check_device_dtype(const at::Device& device, at::ScalarType dtype);

}  // namespace sdw
