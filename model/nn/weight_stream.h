// Sequential CPU offload at the layer level (issue 24; diffusers' enable_sequential_cpu_offload):
// a leaf layer (layers.h) whose parameters live on another device than its input, weights kept in
// host memory while the activations are on a GPU, copies them to the input's device for that one
// call; the copy is freed when the call returns. Only the layer running holds device memory for
// weights. From pinned host memory the copy is asynchronous on the current stream.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace sdw::nn {

// `w` on `x`'s device: `w` itself when it is there already (or undefined), else a copy counted in
// streamed_weight_bytes().
at::Tensor on_device_of(const at::Tensor& w, const at::Tensor& x);

// Bytes copied by on_device_of since the process started (all threads): what sequential offload
// moved from host to device memory.
int64_t streamed_weight_bytes();

}  // namespace sdw::nn
