// A request's LoRAs on a model (see model_loras.h).
#include "model/pipeline/model_loras.h"

#include "model/pipeline/request.h"

namespace sdw {

LoraModelParts lora_parts(const SdModel& model) {
  LoraModelParts p;
  p.family = model.family;
  if (!model.unet.is_empty()) {
    p.unet = model.unet.ptr();
    const auto& per_block = model.unet->config().layers_per_block;
    if (!per_block.empty()) p.layers_per_block = per_block.front();
  }
  if (!model.text_encoder.is_empty()) p.text_encoder = model.text_encoder.ptr();
  if (!model.text_encoder_2.is_empty()) p.text_encoder_2 = model.text_encoder_2.ptr();
  return p;
}

void check_request_loras(const SdModel& model, const std::vector<LoraUse>& loras, LoraCache& cache) {
  if (loras.empty()) return;
  if (model.fp8)  // the fp8 weight copies are made once, at load
    throw RequestError("loras: not available on a worker started with --dtype fp8 (its fp8 weights are made at load)");
  const LoraModuleIndex index(lora_parts(model));
  for (const LoraUse& use : loras) {
    try {
      auto file = cache.get(use.path);
      map_lora(*file, index, use.ignore_unmatched);
    } catch (const LoraError& e) {
      throw RequestError(std::string("loras: ") + e.what());
    }
  }
}

LoraApplyStats apply_request_loras(SdModel& model, const std::vector<LoraUse>& loras, LoraCache& cache) {
  if (!model.loras) {
    if (loras.empty()) return LoraApplyStats{true};  // never fused: the base weights
    model.loras = std::make_shared<LoraState>(lora_parts(model));
  }
  return model.loras->apply(loras, cache);
}

}  // namespace sdw
