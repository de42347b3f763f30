// `sd-worker bench --profile`: one UNet step and one VAE decode under libtorch's operator profiler,
// printed as tables of where the time goes (self time per operator, and per operator and input
// shapes), so a slow stage can be traced to its convolutions, attention products or layout copies.
// On CUDA the times are the operators' CUDA event times.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

namespace sdw {

// One operator (or one operator with one set of input shapes) over a profiled run.
struct OpProfileRow {
  std::string name;    // "aten::mkldnn_convolution"
  std::string shapes;  // "[2, 320, 64, 64] [320, 320, 3, 3] [320]" (empty in the per-operator table)
  int64_t calls = 0;
  double self_ms = 0;  // time inside the operator minus the operators it called
};

struct OpProfile {
  double wall_ms = 0;                   // the profiled run, end to end
  std::vector<OpProfileRow> by_op;      // sorted by self time, largest first
  std::vector<OpProfileRow> by_shapes;  // the same, split by input shapes
};

// Runs `fn` once under the profiler (after the caller's warm-up) and sums the operators' self times.
OpProfile profile_ops(const at::Device& device, const std::function<void()>& fn);
// Prints the two tables (the `top` largest rows each) under `title`.
void print_op_profile(const std::string& title, const OpProfile& p, size_t top);

}  // namespace sdw
