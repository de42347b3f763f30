// Random draws as diffusers makes them (see rng.h).
#include "model/pipeline/rng.h"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>
#include <random>

namespace sdw {

at::Generator make_cpu_generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

at::Tensor randn_like_diffusers(at::IntArrayRef shape, at::Generator& generator, const at::TensorOptions& options) {
  // The CPU kernel takes the generator's lock itself.
  at::Tensor t = at::randn(shape, generator, at::TensorOptions().dtype(at::kFloat).device(at::kCPU));
  return t.to(options);
}

uint64_t random_seed() {
  static std::random_device rd;
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  const uint64_t hi = rd(), lo = rd();
  return ((hi << 32) | lo) & 0xFFFFFFFFull;  // 32-bit seeds: the generator only uses the low 32 bits
}

}  // namespace sdw
