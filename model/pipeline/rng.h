// Random draws as diffusers makes them with a CPU generator: torch.Generator("cpu").manual_seed(S)
// and randn_tensor(shape, generator) = a float32 CPU torch.randn, then cast and moved. libtorch's
// CPU generator is the same mt19937 (seeded with the low 32 bits of S), so the numbers are equal.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace sdw {

at::Generator make_cpu_generator(uint64_t seed);
// [shape] float32 CPU draw, then converted to `options` (dtype, device).
at::Tensor randn_like_diffusers(at::IntArrayRef shape, at::Generator& generator, const at::TensorOptions& options);
// A fresh seed for requests that give none (from std::random_device).
uint64_t random_seed();

}  // namespace sdw
