// CPU offload of a model's weights (issue 24; diffusers' enable_model_cpu_offload and
// enable_sequential_cpu_offload), for cards smaller than the model:
//   model       the weights live in host memory; a stage moves the part it runs (the text
//               encoders, the denoiser with its ControlNets, the VAE) to the device and the part
//               that ran before back, so one part at a time takes device memory;
//   sequential  the weights never leave host memory; each layer copies its own weights to the
//               device for its call (model/nn/weight_stream.h), so the device holds the
//               activations and one layer's weights.
// Host copies are page-locked on CUDA, so the copies are direct DMA. TAESD (a few MB) stays on the
// device. Offload turns off CUDA graphs (their captured weight addresses change) and fused QKV
// (its views would be moved as separate copies). The load path: load_offloaded(options, loader),
// which is weights_load_options(), the usual loader, then enable_offload().
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "model/pipeline/memory_options.h"
#include "model/pipeline/sd_model.h"

namespace sdw {

// (OffloadMode, parse_offload_mode and offload_mode_name: memory_options.h.)

// The parts of a model a stage runs.
enum class ModelPart { text_encoders, denoiser, vae };
const char* model_part_name(ModelPart part);

class ModelOffload {
 public:
  ModelOffload(OffloadMode mode, at::Device compute);
  OffloadMode mode() const { return mode_; }
  const at::Device& compute_device() const { return compute_; }

  // Before a stage runs `part` (model mode): every module of the model's other parts on the
  // compute device goes back to host memory, then `part`'s modules come to the device. A part
  // already there (and its ControlNets loaded since) costs nothing. Sequential mode: nothing.
  void use(SdModel& model, ModelPart part);

  struct Stats {
    int64_t bytes_to_device = 0;  // host -> device copies of whole parts (model mode)
    int64_t bytes_to_host = 0;    // device -> host copies when a part leaves
    // The parts made resident, in order (a part already resident is not repeated).
    std::vector<ModelPart> arrivals;
  };
  Stats stats() const;

 private:
  void to_device(torch::nn::Module& module);
  void to_host(torch::nn::Module& module);

  OffloadMode mode_;
  at::Device compute_;
  mutable std::mutex mutex_;
  std::set<const torch::nn::Module*> resident_;  // modules on the compute device now
  bool any_resident_ = false;
  ModelPart last_ = ModelPart::text_encoders;
  Stats stats_;
};

// `model.offload->use(model, part)` when the model offloads; otherwise nothing.
void use_part(SdModel& model, ModelPart part);

// The options a loader builds the model with: `options` itself, or with the weights on the CPU
// when options.memory.offload keeps them there (SD3's T5 goes where --t5-device says, else follows
// the compute device).
ModelLoadOptions weights_load_options(const ModelLoadOptions& options);

// After a load with weights_load_options(): the model computes on options.device, its weights
// page-locked in host memory (CUDA), CUDA graphs and fused QKV off, channels_last as that device
// wants. A no-op without offload. Throws std::invalid_argument for a compute device with no CUDA.
void enable_offload(SdModel& model, const ModelLoadOptions& options);

// Every loader's path under (or without) --offload: `load(weights_load_options(options))` builds
// the weights where they live, then enable_offload() sets the model to compute on options.device.
template <class Load>
std::shared_ptr<SdModel> load_offloaded(const ModelLoadOptions& options, Load&& load) {
  std::shared_ptr<SdModel> m = load(weights_load_options(options));
  enable_offload(*m, options);
  return m;
}

// Where a model's weights live: the CPU under offload, else its device (ControlNets load there).
at::Device weights_device(const SdModel& model);

// The bytes of device memory the weights take under `mode`: all of them (none), the largest part
// (model), or the largest layer's (sequential), given the parts' bytes and the largest layer's.
int64_t device_weight_bytes(OffloadMode mode, int64_t all, int64_t largest_part, int64_t largest_layer);

}  // namespace sdw
