// TAESD beside a model's VAE (see taesd_use.h).
#include "model/pipeline/taesd_use.h"

#include <c10/core/InferenceMode.h>

#include <stdexcept>

#include "model/loading/taesd_folder.h"

namespace sdw {

void attach_taesd(SdModel& model, const MemoryOptions& options) {
  if (options.final_decoder != "vae" && options.final_decoder != "taesd")
    throw std::invalid_argument("final decoder must be vae or taesd, got '" + options.final_decoder + "'");
  if (options.preview_decoder != "latent" && options.preview_decoder != "taesd")
    throw std::invalid_argument("preview decoder must be latent or taesd, got '" + options.preview_decoder + "'");
  const bool wanted = options.final_decoder == "taesd" || options.preview_decoder == "taesd";
  if (!wanted) {
    model.taesd = nullptr;
    model.taesd_final = model.taesd_previews = false;
    return;
  }
  if (options.taesd_dir.empty()) throw std::invalid_argument("TAESD as final or preview decoder needs --taesd DIR");
  if (model.is_sd3()) throw std::invalid_argument("TAESD is supported for SD1.x, SD2.x and SDXL models");
  // diffusers' AutoencoderTiny has force_upcast false: it runs in the model's dtype (fp32 on a CPU).
  const at::ScalarType dtype = model.device.is_cpu() ? at::kFloat : model.dtype;
  model.taesd = load_taesd(options.taesd_dir, at::TensorOptions().dtype(dtype).device(model.device));
  model.taesd_final = options.final_decoder == "taesd";
  model.taesd_previews = options.preview_decoder == "taesd";
}

at::Tensor taesd_decode_latents(SdModel& model, const at::Tensor& latents) {
  c10::InferenceMode guard;
  const auto dtype = model.taesd->parameters().front().scalar_type();
  at::Tensor image = model.taesd->decode(latents.to(dtype));  // [N, 3, H, W], latents / scaling_factor 1.0
  image = (image / 2 + 0.5).clamp(0, 1).permute({0, 2, 3, 1}).to(at::kFloat).contiguous();  // [N, H, W, 3]
  return image.to(at::kCPU);
}

at::Tensor taesd_encode_latents(SdModel& model, const at::Tensor& image) {
  const auto dtype = model.taesd->parameters().front().scalar_type();
  return model.taesd->encode(image.to(model.device, dtype)).to(model.activation_dtype());  // [1, 4, h, w]
}

Image taesd_preview(SdModel& model, const at::Tensor& latents) {
  at::Tensor u8 = (taesd_decode_latents(model, latents.slice(0, 0, 1))[0] * 255).round().to(at::kByte).contiguous();
  Image img;
  img.height = static_cast<int>(u8.size(0));
  img.width = static_cast<int>(u8.size(1));
  img.channels = 3;
  img.pixels.assign(u8.data_ptr<uint8_t>(), u8.data_ptr<uint8_t>() + u8.numel());
  return img;
}

}  // namespace sdw
