// diffusers' AutoencoderKL.tiled_decode / tiled_encode (v0.30, `vae.enable_tiling()`): the input is
// cut into overlapping tiles, each tile runs through the whole decoder (or encoder) on its own, the
// tiles are blended linearly into their upper and left neighbours in raster order (blend_v /
// blend_h, in place: a neighbour is used after its own blending) and cropped to `row_limit`.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "model/nets/autoencoder_kl.h"

namespace sdw {

// diffusers' instance attributes tile_sample_min_size (image pixels), tile_latent_min_size
// (latent pixels) and tile_overlap_factor.
struct VaeTiling {
  int64_t tile_sample_min_size = 512;
  int64_t tile_latent_min_size = 64;
  double tile_overlap_factor = 0.25;

  // diffusers' defaults for a VAE: sample_size, sample_size / 2^(levels-1), 0.25.
  static VaeTiling defaults_for(const AutoencoderKLConfig& config);
  // The same with another tile size (image pixels, 0: the default) and overlap (< 0: 0.25);
  // throws std::invalid_argument for settings diffusers mis-sizes (stride x factor != kept pixels)
  // or that do not tile at all.
  static VaeTiling with(const AutoencoderKLConfig& config, int64_t tile_size, double overlap);

  // decode() tiles when the latents are wider or taller than a latent tile; encode() when the
  // image is wider or taller than an image tile.
  bool tiles_decode(const at::Tensor& latents) const;
  bool tiles_encode(const at::Tensor& image) const;
};

// diffusers' blend_v / blend_h: the first `e = min(a rows, b rows, extent)` rows (columns) of `b`
// become a linear ramp from the last `e` rows of `a` to `b`'s own, in place. [N, C, H, W].
void blend_v(const at::Tensor& a, at::Tensor& b, int64_t extent);
void blend_h(const at::Tensor& a, at::Tensor& b, int64_t extent);

// vae.decode(latents) with tiling (latents already / scaling_factor): [N, 4, h, w] -> [N, 3, h*f, w*f].
at::Tensor tiled_decode(AutoencoderKLImpl& vae, const at::Tensor& latents, const VaeTiling& tiling);
// vae.encode(image) with tiling: blended moments [N, 2*latent, H/f, W/f] as a posterior.
LatentDistribution tiled_encode(AutoencoderKLImpl& vae, const at::Tensor& image, const VaeTiling& tiling);

// decode / encode that tile when `tiling` is set and the input exceeds a tile (as diffusers'
// decode()/encode() with use_tiling), else the plain path.
at::Tensor decode_maybe_tiled(AutoencoderKLImpl& vae, const at::Tensor& latents, const VaeTiling* tiling);
LatentDistribution encode_maybe_tiled(AutoencoderKLImpl& vae, const at::Tensor& image, const VaeTiling* tiling);

}  // namespace sdw
