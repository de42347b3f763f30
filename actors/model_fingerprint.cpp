// Model fingerprint (see model_fingerprint.h): FNV-1a 64 over the configuration and a sample of
// every parameter's values.
#include "actors/model_fingerprint.h"

#include <cstdio>

#include "model/nn/packed_layer.h"
#include "model/pipeline/sd_model.h"

namespace sdw::actors {
namespace {

struct fnv1a {
  uint64_t h = 1469598103934665603ull;
  void add(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void add(const std::string& s) { add(s.data(), s.size() + 1); }
};

// Names, shapes, dtypes and the first 16 values (as stored) of `module`'s parameters. A packed
// layer's weight parameter is a meta placeholder (nn/packed_layer.h): its values come from the
// packed copy, so the hash does not depend on whether a job has packed the layer yet.
void add_module(fnv1a& f, const std::string& prefix, const torch::nn::Module& module) {
  for (const auto& m : module.named_modules()) {
    const auto* packed = dynamic_cast<const nn::PackedLayer*>(m.value().get());
    for (const auto& p : m.value()->named_parameters(/*recurse=*/false)) {
      const std::string name = m.key().empty() ? p.key() : m.key() + "." + p.key();
      const at::Tensor t = packed && p.key() == "weight" ? nn::PackedLayer::dense(packed->weights()) : p.value();
      f.add(prefix + name);
      for (int64_t s : t.sizes()) f.add(&s, sizeof s);
      f.add(c10::toString(t.scalar_type()));
      at::Tensor head = t.detach().reshape({-1}).slice(0, 0, 16).to(at::kCPU).contiguous();
      f.add(head.data_ptr(), static_cast<size_t>(head.numel()) * head.element_size());
    }
  }
}

}  // namespace

model_fingerprint fingerprint_of(const SdModel& model, const std::string& label) {
  model_fingerprint fp;
  fp.family = model.family;
  fp.dtype = c10::toString(model.dtype);
  fp.label = label;
  fnv1a f;
  f.add(model.family);
  f.add(model.pipeline_class);
  f.add(model.scheduler_config.dump());
  if (!model.text_encoder.is_empty()) add_module(f, "text_encoder.", *model.text_encoder);
  if (!model.text_encoder_2.is_empty()) add_module(f, "text_encoder_2.", *model.text_encoder_2);
  if (!model.unet.is_empty()) add_module(f, "unet.", *model.unet);
  if (!model.vae.is_empty()) add_module(f, "vae.", *model.vae);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(f.h));
  fp.config_hash = buf;
  return fp;
}

std::string fingerprint_mismatch(const model_fingerprint& front, const model_fingerprint& node) {
  if (front.family != node.family)
    return "model family differs (this worker: " + front.family + ", node: " + node.family + ")";
  if (front.dtype != node.dtype) return "dtype differs (this worker: " + front.dtype + ", node: " + node.dtype + ")";
  if (front.config_hash != node.config_hash)
    return "model differs (config hash: this worker " + front.config_hash + " '" + front.label + "', node " +
           node.config_hash + " '" + node.label + "')";
  return "";
}

}  // namespace sdw::actors
