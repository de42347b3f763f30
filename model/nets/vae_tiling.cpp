// Tiled AutoencoderKL decode / encode (see vae_tiling.h), line for line diffusers 0.30's
// tiled_decode / tiled_encode / blend_v / blend_h.
#include "model/nets/vae_tiling.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace sdw {
namespace {

using TileGrid = std::vector<std::vector<at::Tensor>>;

// Tiles of `in` of `size` x `size` starting at every multiple of `stride` (the last ones short),
// each through `run`, in raster order.
template <class Run>
TileGrid run_tiles(const at::Tensor& in, int64_t size, int64_t stride, Run&& run) {
  TileGrid rows;
  const int64_t h = in.size(2), w = in.size(3);
  for (int64_t i = 0; i < h; i += stride) {
    std::vector<at::Tensor> row;
    for (int64_t j = 0; j < w; j += stride)
      row.push_back(run(in.slice(2, i, std::min(i + size, h)).slice(3, j, std::min(j + size, w))));
    rows.push_back(std::move(row));
  }
  return rows;
}

// Blends each tile into its upper and left neighbours (already blended), crops to `keep` and
// concatenates: [N, C, sum of kept rows, sum of kept columns].
at::Tensor blend_and_join(TileGrid& rows, int64_t blend, int64_t keep) {
  std::vector<at::Tensor> joined_rows;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<at::Tensor> kept;
    for (size_t j = 0; j < rows[i].size(); ++j) {
      at::Tensor& tile = rows[i][j];
      if (i > 0) blend_v(rows[i - 1][j], tile, blend);
      if (j > 0) blend_h(rows[i][j - 1], tile, blend);
      kept.push_back(tile.slice(2, 0, keep).slice(3, 0, keep));
    }
    joined_rows.push_back(at::cat(kept, 3));
  }
  return at::cat(joined_rows, 2);
}

void blend(const at::Tensor& a, at::Tensor& b, int64_t extent, int64_t dim) {
  const int64_t e = std::min({a.size(dim), b.size(dim), extent});
  for (int64_t y = 0; y < e; ++y) {
    // Weights as Python floats (double), rounded to the tiles' dtype in the products, as diffusers.
    const double w = static_cast<double>(y) / static_cast<double>(e);
    at::Tensor mixed = a.select(dim, a.size(dim) - e + y) * (1.0 - w) + b.select(dim, y) * w;
    b.select(dim, y).copy_(mixed);
  }
}

}  // namespace

VaeTiling VaeTiling::defaults_for(const AutoencoderKLConfig& config) {
  VaeTiling t;
  t.tile_sample_min_size = config.sample_size;
  t.tile_latent_min_size = config.sample_size / config.scale_factor();
  t.tile_overlap_factor = 0.25;
  return t;
}

VaeTiling VaeTiling::with(const AutoencoderKLConfig& config, int64_t tile_size, double overlap) {
  VaeTiling t = defaults_for(config);
  const int64_t f = config.scale_factor();
  if (tile_size > 0) {
    if (tile_size % f != 0)
      throw std::invalid_argument("VAE tile size must be a multiple of the VAE factor " + std::to_string(f) + ", got " +
                                  std::to_string(tile_size));
    t.tile_sample_min_size = tile_size;
    t.tile_latent_min_size = tile_size / f;
  }
  if (overlap >= 0) t.tile_overlap_factor = overlap;
  const int64_t ts = t.tile_sample_min_size, tl = t.tile_latent_min_size;
  const double o = t.tile_overlap_factor;
  const int64_t dec_stride = static_cast<int64_t>(tl * (1 - o)), dec_keep = ts - static_cast<int64_t>(ts * o);
  const int64_t enc_stride = static_cast<int64_t>(ts * (1 - o)), enc_keep = tl - static_cast<int64_t>(tl * o);
  if (!(o >= 0 && o < 1) || dec_stride < 1 || enc_stride < 1)
    throw std::invalid_argument("VAE tile overlap must be in [0, 1) and leave a stride of at least one latent pixel");
  // diffusers concatenates `keep`-sized crops of tiles `stride` apart: other settings mis-size the image.
  if (dec_stride * f != dec_keep || enc_stride != enc_keep * f)
    throw std::invalid_argument("VAE tile size " + std::to_string(ts) + " with overlap " + std::to_string(o) +
                                " does not tile evenly (diffusers would return a mis-sized image)");
  return t;
}

bool VaeTiling::tiles_decode(const at::Tensor& latents) const {
  return latents.size(-1) > tile_latent_min_size || latents.size(-2) > tile_latent_min_size;
}

bool VaeTiling::tiles_encode(const at::Tensor& image) const {
  return image.size(-1) > tile_sample_min_size || image.size(-2) > tile_sample_min_size;
}

void blend_v(const at::Tensor& a, at::Tensor& b, int64_t extent) { blend(a, b, extent, 2); }
void blend_h(const at::Tensor& a, at::Tensor& b, int64_t extent) { blend(a, b, extent, 3); }

at::Tensor tiled_decode(AutoencoderKLImpl& vae, const at::Tensor& z, const VaeTiling& t) {
  // 1. stride between latent tiles, image pixels blended and kept per tile
  const int64_t stride = static_cast<int64_t>(t.tile_latent_min_size * (1 - t.tile_overlap_factor));
  const int64_t blend = static_cast<int64_t>(t.tile_sample_min_size * t.tile_overlap_factor);
  const int64_t keep = t.tile_sample_min_size - blend;
  // 2. every tile through post_quant_conv and the whole decoder: [N, 3, <=Ts, <=Ts] each
  TileGrid rows = run_tiles(z, t.tile_latent_min_size, stride, [&](const at::Tensor& tile) {
    at::Tensor x = vae.post_quant_conv ? vae.post_quant_conv->forward(tile) : tile;
    return vae.decoder->forward(x);
  });
  // 3. blend, crop, join: [N, 3, h*f, w*f]
  return blend_and_join(rows, blend, keep);
}

LatentDistribution tiled_encode(AutoencoderKLImpl& vae, const at::Tensor& image, const VaeTiling& t) {
  // 1. stride between image tiles, latent pixels blended and kept per tile
  const int64_t stride = static_cast<int64_t>(t.tile_sample_min_size * (1 - t.tile_overlap_factor));
  const int64_t blend = static_cast<int64_t>(t.tile_latent_min_size * t.tile_overlap_factor);
  const int64_t keep = t.tile_latent_min_size - blend;
  // 2. every tile through the encoder and quant_conv: moments [N, 2*latent, <=Tl, <=Tl] each
  TileGrid rows = run_tiles(image, t.tile_sample_min_size, stride, [&](const at::Tensor& tile) {
    at::Tensor m = vae.encoder->forward(tile);
    return vae.quant_conv ? vae.quant_conv->forward(m) : m;
  });
  // 3. the blended moments (mean and logvar alike) make the posterior
  return LatentDistribution::from_moments(blend_and_join(rows, blend, keep));
}

at::Tensor decode_maybe_tiled(AutoencoderKLImpl& vae, const at::Tensor& latents, const VaeTiling* tiling) {
  if (tiling && tiling->tiles_decode(latents)) return tiled_decode(vae, latents, *tiling);
  return vae.decode_plain(latents);
}

LatentDistribution encode_maybe_tiled(AutoencoderKLImpl& vae, const at::Tensor& image, const VaeTiling* tiling) {
  if (tiling && tiling->tiles_encode(image)) return tiled_encode(vae, image, *tiling);
  return vae.encode_plain(image);
}

}  // namespace sdw
