// CPU offload of a model's weights (see offload.h).
#include "model/pipeline/offload.h"

#include <c10/core/InferenceMode.h>

#include <stdexcept>

#include "model/nn/device_names.h"
#include "model/pipeline/controlnet_stage.h"
#include "model/pipeline/sd3_model.h"

namespace sdw {
namespace {

// The modules of `part` that exist in `model`.
std::vector<torch::nn::Module*> part_modules(SdModel& model, ModelPart part, const at::Device& compute) {
  std::vector<torch::nn::Module*> out;
  auto add = [&](auto& holder) {
    if (!holder.is_empty()) out.push_back(holder.get());
  };
  switch (part) {
    case ModelPart::text_encoders:
      add(model.text_encoder);
      add(model.text_encoder_2);
      // T5 kept on another device (--t5-device cpu beside a GPU) stays there.
      if (model.sd3 && model.sd3->t5_device == compute) add(model.sd3->text_encoder_3);
      break;
    case ModelPart::denoiser:
      add(model.unet);
      if (model.sd3) add(model.sd3->transformer);
      for (ControlNetModel& net : model.controlnets->loaded()) add(net);
      break;
    case ModelPart::vae:
      add(model.vae);
      break;
  }
  return out;
}

// Every parameter and buffer of `module`, for moves that keep the module's own tensors (set_data).
// A stage may call from inside or outside InferenceMode; each replacement is made in the mode its
// tensor was made in (a model loaded under InferenceMode holds inference tensors), so set_data
// never mixes the two kinds.
template <class Fn>
void each_tensor(torch::nn::Module& module, Fn fn) {
  auto visit = [&](at::Tensor& t) {
    c10::InferenceMode mode(t.is_inference());
    fn(t);
  };
  for (auto& p : module.parameters()) visit(p);
  for (auto& b : module.buffers()) visit(b);
}

int64_t tensor_bytes(const at::Tensor& t) { return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size()); }

// A host copy of `t` in the same layout (channels_last weights stay so), page-locked for a CUDA device.
at::Tensor host_copy(const at::Tensor& t, bool pinned) {
  at::Tensor host = at::empty_strided(t.sizes(), t.strides(), t.options().device(at::kCPU).pinned_memory(pinned));
  host.copy_(t);
  return host;
}

}  // namespace

const char* model_part_name(ModelPart part) {
  switch (part) {
    case ModelPart::text_encoders: return "text_encoders";
    case ModelPart::denoiser: return "denoiser";
    case ModelPart::vae: break;
  }
  return "vae";
}

ModelOffload::ModelOffload(OffloadMode mode, at::Device compute) : mode_(mode), compute_(compute) {}

void ModelOffload::to_device(torch::nn::Module& module) {
  each_tensor(module, [&](at::Tensor& t) {
    // (A CPU compute device moves nothing; a prepacked layer's placeholder is on the meta device.)
    if (t.device() == compute_ || t.is_meta()) return;
    stats_.bytes_to_device += tensor_bytes(t);
    t.set_data(t.to(compute_, /*non_blocking=*/t.is_pinned()));
  });
}

void ModelOffload::to_host(torch::nn::Module& module) {
  each_tensor(module, [&](at::Tensor& t) {
    if (t.device().is_cpu() || t.is_meta()) return;
    stats_.bytes_to_host += tensor_bytes(t);
    t.set_data(host_copy(t, t.is_cuda()));
  });
}

void ModelOffload::use(SdModel& model, ModelPart part) {
  if (mode_ != OffloadMode::model) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const std::vector<torch::nn::Module*> wanted = part_modules(model, part, compute_);
  const std::set<const torch::nn::Module*> wanted_set(wanted.begin(), wanted.end());
  bool arrived = false;
  for (ModelPart other : {ModelPart::text_encoders, ModelPart::denoiser, ModelPart::vae}) {
    if (other == part) continue;
    for (torch::nn::Module* m : part_modules(model, other, compute_)) {
      if (wanted_set.count(m) || !resident_.erase(m)) continue;
      to_host(*m);
    }
  }
  for (torch::nn::Module* m : wanted) {
    if (!resident_.insert(m).second) continue;
    to_device(*m);
    arrived = true;
  }
  if (arrived || !any_resident_ || last_ != part) stats_.arrivals.push_back(part);
  any_resident_ = true;
  last_ = part;
}

ModelOffload::Stats ModelOffload::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void use_part(SdModel& model, ModelPart part) {
  if (model.offload) model.offload->use(model, part);
}

ModelLoadOptions weights_load_options(const ModelLoadOptions& options) {
  if (options.memory.offload == OffloadMode::none) return options;
  if (options.fp8)  // its copies are made on the device from weights there
    throw std::invalid_argument("--dtype fp8 and --offload do not combine (use --dtype fp16 with --offload)");
  ModelLoadOptions w = options;
  w.device = at::kCPU;
  w.fuse_qkv = false;
  w.channels_last = false;
  w.cuda_graphs = false;
  return w;
}

void enable_offload(SdModel& model, const ModelLoadOptions& options) {
  const OffloadMode mode = options.memory.offload;
  if (mode == OffloadMode::none) return;
  check_device_dtype(options.device, options.dtype);
  model.device = options.device;
  if (model.sd3 && !options.t5_device) model.sd3->t5_device = options.device;
  // The compute device's settings: its channels_last, no graphs, no fused QKV; the VAE's tiling
  // rule and TAESD (loaded again, on the device, in the model's dtype) follow the device.
  ModelLoadOptions compute = options;
  compute.cuda_graphs = false;
  compute.fuse_qkv = false;
  apply_speed_options(model, compute);
  model.offload = std::make_shared<ModelOffload>(mode, options.device);
  if (!options.device.is_cuda()) return;
  // Page-locked host copies: every later copy to the device is a direct, asynchronous DMA.
  for (ModelPart part : {ModelPart::text_encoders, ModelPart::denoiser, ModelPart::vae})
    for (torch::nn::Module* m : part_modules(model, part, options.device))
      each_tensor(*m, [](at::Tensor& t) {
        if (t.device().is_cpu() && !t.is_pinned()) t.set_data(host_copy(t, true));
      });
}

at::Device weights_device(const SdModel& model) { return model.offload ? at::Device(at::kCPU) : model.device; }

int64_t device_weight_bytes(OffloadMode mode, int64_t all, int64_t largest_part, int64_t largest_layer) {
  switch (mode) {
    case OffloadMode::model: return largest_part > 0 ? largest_part : all;
    case OffloadMode::sequential: return largest_layer > 0 ? largest_layer : all;
    case OffloadMode::none: break;
  }
  return all;
}

}  // namespace sdw
