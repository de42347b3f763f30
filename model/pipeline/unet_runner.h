// Runs the UNet for the denoising loop: eagerly, or, on CUDA, replayed as one CUDA graph per input
// shape. A graph is captured the first time a (batch, channels, height, width, dtype, context
// shape, SDXL conditioning shape) is seen, with static input and output buffers; later steps of
// that shape copy their inputs into the buffers and replay it, which removes the per-kernel launch
// cost of the eager step (about 2/3 of an SD1.5 512x512 fp16 step on an H100-class GPU). Where
// capture is not possible (CPU, MPS, a build without CUDA, a capture that fails) the step runs
// eagerly, and the runner says why in `stats().mode`.
//
// The CUDA-only part sits in unet_runner.cpp behind SDW_WITH_CUDA (set by CMake when the libtorch
// has CUDA); this header compiles everywhere.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>

#include "model/nets/unet_2d_condition.h"

namespace sdw {

struct UNetRunnerStats {
  std::string mode;          // "eager (cpu)", "cuda graph", "eager (capture failed: ...)", ...
  int64_t graphs = 0;        // graphs captured and held
  int64_t replays = 0;       // steps served by a graph replay
  int64_t eager_calls = 0;   // steps run eagerly
  int64_t failed_captures = 0;
};

class UNetRunner {
 public:
  // `use_graphs`: capture and replay CUDA graphs where possible (also off with SDW_CUDA_GRAPHS=0).
  UNetRunner(UNet2DConditionModel unet, bool use_graphs);
  ~UNetRunner();
  UNetRunner(const UNetRunner&) = delete;
  UNetRunner& operator=(const UNetRunner&) = delete;

  // The UNet's noise prediction for `sample` [B, C, h, w] at timestep `t` with `context`
  // [B, 77, D] (and SDXL's `added`). The returned tensor is the caller's own (not a graph buffer).
  // With ControlNet residuals (`control`) the step runs eagerly: they are not graph inputs.
  at::Tensor forward(const at::Tensor& sample, double t, const at::Tensor& context, const UNetAddedCond& added = {},
                     const UNetControlResiduals& control = {});
  // The same with a timestep per sample: `timesteps` [B] (double, on the CPU), as the batched
  // step of several jobs at different steps uses it (denoise_step.h). Graphs are specialised on
  // its shape too.
  at::Tensor forward(const at::Tensor& sample, const at::Tensor& timesteps, const at::Tensor& context,
                     const UNetAddedCond& added = {});

  void set_use_graphs(bool on) { use_graphs_ = on; }
  bool use_graphs() const { return use_graphs_; }
  // Whether this build can capture CUDA graphs at all (a CUDA libtorch).
  static bool graphs_supported();
  UNetRunnerStats stats() const;
  // Drops every captured graph and its memory pool.
  void clear();

  struct Graphs;  // the captured graphs (CUDA builds only; opaque elsewhere)

 private:
  at::Tensor eager(const at::Tensor& sample, const at::Tensor& t, const at::Tensor& context, const UNetAddedCond& added,
                   const UNetControlResiduals& control = {});

  UNet2DConditionModel unet_;
  bool use_graphs_;
  UNetRunnerStats stats_;
  std::unique_ptr<Graphs> graphs_;
};

// The maximum number of graphs held at once (each holds its shape's activations); the least
// recently used one is dropped beyond it.
constexpr int64_t kMaxUNetGraphs = 4;

}  // namespace sdw
