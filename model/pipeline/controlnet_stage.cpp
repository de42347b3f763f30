// ControlNet in the denoising loop (see controlnet_stage.h). Follows diffusers 0.30's
// StableDiffusionControlNetPipeline (prepare_image, controlnet_keep, the guess-mode split), its
// Img2Img and Inpaint variants (the same, over the truncated schedule) and MultiControlNetModel
// (residuals summed in order).
#include "model/pipeline/controlnet_stage.h"

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <filesystem>

#include "model/image/pil_resize.h"
#include "model/loading/controlnet_folder.h"
#include "model/loading/diffusers_folder.h"
#include "model/preprocess/canny.h"
#include "model/pipeline/offload.h"
#include "model/pipeline/request.h"
#include "model/pipeline/sd_model.h"

namespace sdw {
namespace {

std::string canonical(const std::string& dir) {
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(dir, ec);
  return ec ? dir : p.string();
}

std::string list(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Refuses a ControlNet whose residuals cannot fit this UNet (another family or size).
void check_fits(const SdModel& model, const ControlNetConfig& c, const std::string& field) {
  const UNet2DConditionConfig& u = model.unet->config();
  auto refuse = [&](const std::string& what, const std::string& theirs, const std::string& ours) {
    throw RequestError(field + ": this ControlNet does not fit the model (" + what + " " + theirs + ", the UNet's " +
                       ours + "): it belongs to another model family");
  };
  if (c.unet.cross_attention_dim != u.cross_attention_dim)
    refuse("cross_attention_dim", list(c.unet.cross_attention_dim), list(u.cross_attention_dim));
  if (c.unet.in_channels != u.out_channels)
    refuse("in_channels", std::to_string(c.unet.in_channels), "latent channels " + std::to_string(u.out_channels));
  if (c.unet.block_out_channels != u.block_out_channels)
    refuse("block_out_channels", list(c.unet.block_out_channels), list(u.block_out_channels));
  if (c.unet.layers_per_block != u.layers_per_block)
    refuse("layers_per_block", list(c.unet.layers_per_block), list(u.layers_per_block));
  // SDXL: the added text_time embedding takes the pooled text and time ids the UNet gets.
  auto named = [](const std::string& t) { return t.empty() ? std::string("none") : t; };
  if (c.unet.addition_embed_type != u.addition_embed_type)
    refuse("addition_embed_type", named(c.unet.addition_embed_type), named(u.addition_embed_type));
  if (c.unet.projection_class_embeddings_input_dim != u.projection_class_embeddings_input_dim)
    refuse("projection_class_embeddings_input_dim", std::to_string(c.unet.projection_class_embeddings_input_dim),
           std::to_string(u.projection_class_embeddings_input_dim));
  if (c.cond_downscale() != model.vae_scale_factor())
    refuse("conditioning downscale", std::to_string(c.cond_downscale()),
           "VAE factor " + std::to_string(model.vae_scale_factor()));
}

}  // namespace

std::shared_ptr<ControlNetCache> make_controlnet_cache() { return std::make_shared<ControlNetCache>(); }

ControlNetModel ControlNetCache::get(const SdModel& model, const std::string& dir) {
  const std::string key = canonical(dir);
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = nets_.find(key);
  if (it != nets_.end()) return it->second;
  const auto options = at::TensorOptions().dtype(model.dtype).device(weights_device(model));
  ControlNetModel net = load_controlnet(dir, options, weight_variant_for(model.dtype), &model.unet->config());
  nets_.emplace(key, net);
  return net;
}

std::vector<ControlNetModel> ControlNetCache::loaded() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<ControlNetModel> out;
  for (const auto& [dir, net] : nets_) out.push_back(net);
  return out;
}

void check_request_controlnets(const SdModel& model, GenerationRequest& r, const RequestLimits& limits) {
  if (r.controlnets.empty()) {
    if (r.guess_mode) throw RequestError("guess_mode needs at least one ControlNet");
    return;
  }
  if (static_cast<int>(r.controlnets.size()) > limits.max_controlnets)
    throw RequestError("controlnets: at most " + std::to_string(limits.max_controlnets) + " ControlNets per request");
  if (model.is_sd3() || model.unet.is_empty())
    throw RequestError("controlnets: ControlNet is supported for SD1.x/2.x and SDXL models only, not " + model.family);
  // txt2img, img2img and inpaint (diffusers' StableDiffusion[XL]ControlNet{,Img2Img,Inpaint}Pipeline);
  // hires fix's second pass is an img2img of its own with the control images sent, resized to its
  // size (hires_second_request). diffusers' SDXL ControlNet img2img and inpaint pipelines take no
  // denoising_start (a refiner's start).
  if (r.denoising_start) throw RequestError("controlnets: not with denoising_start (a refiner's img2img start)");
  for (size_t i = 0; i < r.controlnets.size(); ++i) {
    ControlNetUse& c = r.controlnets[i];
    const std::string field = "controlnets[" + std::to_string(i) + "]";
    if (c.path.empty()) throw RequestError(field + ": no ControlNet model");
    if (c.image.pixels.empty()) throw RequestError(field + ": no control image");
    if (!std::isfinite(c.scale) || c.scale < 0 || c.scale > 2)
      throw RequestError(field + ".scale must be between 0 and 2, got " + std::to_string(c.scale));
    if (!std::isfinite(c.start) || !std::isfinite(c.end) || c.start < 0 || c.end > 1 || c.start >= c.end)
      throw RequestError(field + ": start and end must satisfy 0 <= start < end <= 1, got " + std::to_string(c.start) +
                         " and " + std::to_string(c.end));
    if (c.name.empty()) c.name = controlnet_name(c.path);
    if (c.preprocess != "none" && c.preprocess != "canny")
      throw RequestError(field + ".preprocess must be \"none\" or \"canny\", got \"" + c.preprocess + "\"");
    // The config first: a ControlNet of another family is refused before its weights are read.
    try {
      check_fits(model, read_controlnet_config(c.path, &model.unet->config()), field);  // a folder or a single file
      model.controlnets->get(model, c.path);
    } catch (const RequestError&) {
      throw;
    } catch (const std::exception& e) {
      throw RequestError(field + ": " + e.what());
    }
    if (c.source.pixels.empty()) c.source = c.image;  // (a hires second pass starts again from it)
    // diffusers' control_image_processor: RGB, Pillow's Lanczos only when the size differs.
    Image rgb = to_rgb(c.image);
    c.image = (rgb.width == r.width && rgb.height == r.height) ? std::move(rgb) : resize_lanczos_pil(rgb, r.width, r.height);
    if (c.preprocess == "canny" && !c.preprocessed) {  // on the resized image: a 0/255 edge map at the output size
      try {
        c.image = canny_edges(c.image, c.canny_low, c.canny_high);
      } catch (const PreprocessError& e) {
        throw RequestError(field + ": " + e.what());
      }
      c.preprocessed = true;  // a request resolved again keeps its edge map
    }
  }
}

ControlState prepare_control(SdModel& model, const GenerationRequest& r, bool cfg) {
  ControlState s;
  if (r.controlnets.empty()) return s;
  c10::InferenceMode guard;
  for (const ControlNetUse& c : r.controlnets) {
    ControlNetUnit u;
    u.net = model.controlnets->get(model, c.path);
    u.scale = c.scale;
    u.start = c.start;
    u.end = c.end;
    s.units.push_back(std::move(u));
  }
  s.guess_mode = r.guess_mode || s.units[0].net->config().global_pool_conditions;
  for (size_t i = 0; i < s.units.size(); ++i) {
    Image rgb = to_rgb(r.controlnets[i].image);  // already width x height (check_request_controlnets)
    at::Tensor t = at::from_blob(rgb.pixels.data(), {rgb.height, rgb.width, 3}, at::kByte).clone();  // [H, W, 3]
    t = (t.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat) / 255.0);  // [1, 3, H, W] in [0, 1]
    t = t.repeat_interleave(r.num_images, 0);                         // [N, 3, H, W]
    if (cfg && !s.guess_mode) t = at::cat({t, t}, 0);                 // [2N, 3, H, W]
    s.units[i].image = t.to(model.device, model.activation_dtype());
  }
  return s;
}

double control_keep(int64_t i, int64_t total, double start, double end) {
  const double n = static_cast<double>(total);
  return 1.0 - ((static_cast<double>(i) / n < start || static_cast<double>(i + 1) / n > end) ? 1.0 : 0.0);
}

UNetControlResiduals control_residuals(const ControlState& control, const at::Tensor& x, double t,
                                       const at::Tensor& context, bool cfg, int64_t step, int64_t total,
                                       const UNetAddedCond& added) {
  const bool split = control.guess_mode && cfg;  // only the conditional half sees the ControlNets
  at::Tensor cx = split ? x.chunk(2, 0)[1] : x;                   // [B', 4, h, w]
  at::Tensor cctx = split ? context.chunk(2, 0)[1] : context;     // [B', 77, D]
  UNetAddedCond cadded = added;  // SDXL: text_embeds [B', P], time_ids [B', 6] (the UNet's own)
  if (split && added.text_embeds.defined()) {
    cadded.text_embeds = added.text_embeds.chunk(2, 0)[1];
    cadded.time_ids = added.time_ids.chunk(2, 0)[1];
  }
  at::Tensor tt = at::scalar_tensor(t, at::TensorOptions().dtype(at::kDouble));
  UNetControlResiduals sum;
  for (const ControlNetUnit& u : control.units) {
    const double scale = u.scale * control_keep(step, total, u.start, u.end);
    ControlNetModel net = u.net;  // (a handle: forward is not const)
    UNetControlResiduals r = net->forward(cx, tt, cctx, u.image, scale, control.guess_mode, cadded);
    if (sum.empty()) {
      sum = std::move(r);
      continue;
    }
    for (size_t k = 0; k < sum.down.size(); ++k) sum.down[k] = sum.down[k] + r.down[k];
    sum.mid = sum.mid + r.mid;
  }
  if (split) {
    for (auto& d : sum.down) d = at::cat({at::zeros_like(d), d}, 0);  // [B, C, h, w]
    sum.mid = at::cat({at::zeros_like(sum.mid), sum.mid}, 0);
  }
  return sum;
}

}  // namespace sdw
