// Layer weights copied to their input's device for one call (see weight_stream.h).
#include "model/nn/weight_stream.h"

#include <atomic>

namespace sdw::nn {
namespace {

std::atomic<int64_t>& streamed() {
  static std::atomic<int64_t> bytes{0};
  return bytes;
}

}  // namespace

at::Tensor on_device_of(const at::Tensor& w, const at::Tensor& x) {
  if (!w.defined() || w.device() == x.device()) return w;
  streamed().fetch_add(static_cast<int64_t>(w.numel()) * static_cast<int64_t>(w.element_size()));
  return w.to(x.device(), /*non_blocking=*/w.is_pinned());
}

int64_t streamed_weight_bytes() { return streamed().load(); }

}  // namespace sdw::nn
