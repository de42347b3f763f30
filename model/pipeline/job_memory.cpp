// A job's activation memory, estimated before it runs (see job_memory.h).
#include "model/pipeline/job_memory.h"

#include <algorithm>
#include <cstdio>

#include "model/nets/sd3_transformer_2d.h"
#include "model/nets/vae_tiling.h"
#include "model/nn/attention.h"
#include "model/nn/attention_slicing.h"
#include "model/pipeline/hires_fix.h"
#include "model/pipeline/sd3_model.h"
#include "model/pipeline/vae_memory.h"

namespace sdw {
namespace {

// What a denoiser step's peak RSS growth measured against the live tensors counted below: 483 MB
// against 246 MB for SD1.5 at 512x512 (fp32, CFG; the growth less Winograd's work buffer, which
// the model's own estimate holds) and 33 MB against 22 MB for tiny-sd15 at 128x128. The step
// frees and allocates blocks of many sizes, and the heap keeps the gaps between them.
constexpr int64_t kStepHeapFactor = 2;
// Per job, whatever the size: the libraries' scratch (oneDNN's scratchpad, per-thread buffers)
// and the latents, embeddings and images around the stages (measured: tiny-sd15's 128x128 decode
// grows the process by 20-26 MB, 16 of them its seven maps).
constexpr int64_t kJobScratchBytes = int64_t{16} << 20;

int64_t elem_size(at::ScalarType t) { return static_cast<int64_t>(c10::elementSize(t)); }

std::string gib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), bytes >= (int64_t{1} << 30) ? "%.2f GiB" : "%.0f MiB",
                bytes >= (int64_t{1} << 30) ? static_cast<double>(bytes) / (1 << 30) : static_cast<double>(bytes) / (1 << 20));
  return buf;
}

struct UNetBytes {
  int64_t skips = 0;  // what the down path keeps for the up path
  int64_t peak = 0;   // the largest level's working set
};

// One UNet (or a ControlNet's down path: `down_only`) step on `batch` latents of h x w.
UNetBytes unet_bytes(const UNet2DConditionConfig& c, const SdModel& model, int64_t batch, int64_t h, int64_t w,
                     int64_t text_tokens, bool down_only) {
  const at::ScalarType act = model.activation_dtype();
  const int64_t elem = elem_size(act);
  UNetBytes out;
  const size_t levels = c.block_out_channels.size();
  for (size_t i = 0; i < levels; ++i) {
    const int64_t tokens = (h >> i) * (w >> i);
    const int64_t ch = c.block_out_channels[i];
    const int64_t map = batch * ch * tokens * elem;  // one feature map of this level
    const int64_t layers = i < c.layers_per_block.size() ? c.layers_per_block[i] : 2;
    out.skips += (layers + 1) * map;  // each resnet/attention output and the downsampler's
    const bool attn = i < c.down_block_types.size() && c.down_block_types[i].find("CrossAttn") != std::string::npos;
    int64_t level = 0;
    if (attn) {
      const int64_t heads = i < c.num_attention_heads.size() ? c.num_attention_heads[i] : 8;
      const int64_t d = std::max<int64_t>(1, ch / std::max<int64_t>(1, heads));
      int64_t slice = 0;
      if (!model.memory.attention_slicing.empty()) slice = nn::attention_slice_size(model.memory.attention_slicing, heads);
      const int64_t self_attn =
          nn::attention_work_bytes(model.device, act, batch, heads, tokens, tokens, d, c.upcast_attention, slice);
      const int64_t cross_attn =
          nn::attention_work_bytes(model.device, act, batch, heads, tokens, text_tokens, d, c.upcast_attention, slice);
      // input and residual, normed input, q/k/v and output (6 maps), or the feed-forward: GEGLU's
      // projection (8 maps wide), its gelu half and the product (4 + 4)
      level = std::max(6 * map + std::max(self_attn, cross_attn), 18 * map);
    }
    // A resnet on the up path: the concatenated input (up to 3 maps wide: this level's and the
    // skip's), its norm, the convolutions' outputs and the 1x1 shortcut.
    level = std::max(level, (down_only ? 5 : 10) * map);
    out.peak = std::max(out.peak, level);
  }
  return out;
}

int64_t sd3_bytes(const SdModel& model, const ResolvedRequest& r, int64_t batch, int64_t h, int64_t w) {
  const SD3Transformer2DConfig& c = model.sd3->transformer->config();
  const at::ScalarType act = model.activation_dtype();
  const int64_t elem = elem_size(act);
  const int64_t image_tokens = (h / c.patch_size) * (w / c.patch_size);
  const int64_t text_len = r.request.max_sequence_length > 0 ? r.request.max_sequence_length
                                                             : model.sd3->default_max_sequence_length;
  const int64_t tokens = image_tokens + model.sd3->tokenizer_max_length + text_len;
  const int64_t d = c.inner_dim();
  const int64_t map = batch * tokens * d * elem;
  // the block's input, its two normed streams, q/k/v and the joint output (7), or the MLP: the
  // 4x-wide hidden and its gelu (8) beside the input and its norm
  const int64_t attn = nn::attention_work_bytes(model.device, act, batch, c.num_attention_heads, tokens, tokens,
                                                c.attention_head_dim, false, 0);
  return std::max(7 * map + attn, 10 * map);
}

// One plain VAE pass over `batch` images of height x width (decode, or the encoder's first block).
int64_t vae_plain_bytes(const SdModel& model, int64_t batch, int64_t height, int64_t width) {
  const AutoencoderKLConfig& c = model.vae->config();
  const at::ScalarType act = model.vae_activation_dtype();
  const int64_t elem = elem_size(act);
  const int64_t f = c.scale_factor();
  const int64_t tokens = (height / f) * (width / f);
  const int64_t first = c.block_out_channels.empty() ? 128 : c.block_out_channels.front();
  const int64_t last = c.block_out_channels.empty() ? 512 : c.block_out_channels.back();
  // seven full-resolution maps of the last block (measured, vae_memory.cpp) and the mid-block's
  // single-head attention over the latent tokens
  return batch * 7 * first * height * width * elem +
         nn::attention_work_bytes(model.device, act, batch, 1, tokens, tokens, last, false, 0);
}

}  // namespace

std::string JobMemory::describe() const {
  return gib(total()) + " (denoiser step " + gib(denoiser_bytes) + ", VAE " + gib(vae_bytes) +
         (vae_tiled ? " tiled)" : ")");
}

JobMemory estimate_job_memory(const SdModel& model, const ResolvedRequest& r, int64_t budget) {
  const GenerationRequest& q = r.request;
  int64_t width = q.width, height = q.height;
  if (q.hires) {
    // The second pass is the larger one.
    const ResolvedRequest second = hires_second_request(model, r);
    width = std::max<int64_t>(width, second.request.width), height = std::max<int64_t>(height, second.request.height);
  }
  const int64_t images = std::max(1, q.num_images);
  const int64_t batch = images * (r.guidance > 1.0 ? 2 : 1);
  const int64_t f = model.vae ? model.vae_scale_factor() : 8;
  const int64_t h = height / f, w = width / f;
  JobMemory m;
  if (model.is_sd3() && model.sd3) {
    m.denoiser_bytes = kStepHeapFactor * sd3_bytes(model, r, batch, h, w);
  } else if (model.unet) {
    const UNet2DConditionConfig& c = model.unet->config();
    const int64_t text_tokens = 77;
    UNetBytes u = unet_bytes(c, model, batch, h, w, text_tokens, false);
    m.denoiser_bytes = u.skips + u.peak;
    // Each ControlNet: a down path of the UNet's shape, its residuals alive until the UNet reads them.
    const auto nets = static_cast<int64_t>(q.controlnets.size());
    if (nets > 0) {
      UNetBytes cn = unet_bytes(c, model, batch, h, w, text_tokens, true);
      m.denoiser_bytes += nets * cn.skips + cn.peak;
    }
    m.denoiser_bytes *= kStepHeapFactor;
  }
  if (model.taesd_final && model.taesd) {
    // TAESD's decoder: 64-channel maps at full resolution (three alive in a block).
    m.vae_bytes = images * 3 * 64 * int64_t{height} * width * elem_size(model.vae_activation_dtype());
  } else if (model.vae) {
    const int64_t plain = vae_plain_bytes(model, images, height, width);
    const VaeTiling* tiling = model.vae->tiling();
    bool tiled = false;
    if (tiling && std::max(height, width) > tiling->tile_sample_min_size) {
      // The decoder's own rule (vae_memory.h's vae_tiles), against the job's budget.
      const int64_t rule_bytes = vae_pass_bytes(model.vae->config(), images, height, width,
                                                elem_size(model.vae_activation_dtype()));
      if (q.vae_tiling)
        tiled = *q.vae_tiling;
      else
        tiled = model.memory.vae_tiling || (budget >= 0 && rule_bytes > budget);
    }
    if (tiled) {
      const int64_t tile = tiling->tile_sample_min_size;
      // one tile's pass, and the decoded tiles (overlapping) and the blended image, in fp32
      m.vae_bytes = vae_plain_bytes(model, images, tile, tile) + 3 * images * 3 * int64_t{height} * width * 4;
      m.vae_tiled = true;
    } else {
      m.vae_bytes = plain;
    }
  }
  // img2img / inpaint: the encoder's pass at the init image's size is no larger than the decode's.
  m.denoiser_bytes += kJobScratchBytes;
  m.vae_bytes += kJobScratchBytes;
  return m;
}

}  // namespace sdw
