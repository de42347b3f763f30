// Token merging for Stable Diffusion (ToMe for SD, Bolya & Hoffman 2023; dbolya/tomesd): before a
// transformer block's self-attention, r of its N tokens are merged into similar ones by bipartite
// soft matching (destinations: one random token per sx x sy cell, the rest sources; each source
// matched to its most similar destination by cosine similarity of the block's input, the r best
// matched sources averaged into their destination), and after it the result is copied back to
// every token ("unmerge"). As tomesd: r = int(N * ratio), only where the block's tokens are at
// most max_downsample times fewer per side than the latent (1: the full-resolution blocks), the
// random cells off for an odd batch, and merging before self-attention only by default.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace sdw::nn {

struct TomeSettings {
  double ratio = 0;            // share of tokens merged; 0: off
  int64_t max_downsample = 1;  // 1, 2, 4 or 8: the deepest level that merges
  int64_t sx = 2, sy = 2;      // the destination cell
  bool use_rand = true;        // a random destination per cell (false: the cell's top-left)
  bool merge_attn = true;      // before self-attention
  bool merge_crossattn = false;
  bool merge_mlp = false;
};

// One job's ToMe: its settings, the latent size of the running UNet call (tomesd reads it from
// the UNet's input) and the generator of the random destinations (seeded per job: reproducible).
struct TomeState {
  TomeSettings settings;
  int64_t height = 0, width = 0;  // latent h, w
  at::Generator generator;
};

// tomesd's bipartite_soft_matching_random2d for one set of tokens: built from the metric
// [B, N, C] of an h x w token grid; merge [B, N, c] -> [B, N - r, c] (unmerged sources in
// descending similarity, then the destinations in raster order), unmerge back to [B, N, c].
// With r == 0 both are the identity.
class BipartiteMerge {
 public:
  BipartiteMerge() = default;
  // `generator` undefined, or `use_rand` false: the top-left token of each cell is its destination.
  BipartiteMerge(const at::Tensor& metric, int64_t w, int64_t h, int64_t sx, int64_t sy, int64_t r, bool use_rand,
                 const at::Generator& generator);
  bool active() const { return r_ > 0; }
  int64_t r() const { return r_; }
  at::Tensor merge(const at::Tensor& x) const;    // mean of each destination with its sources
  at::Tensor unmerge(const at::Tensor& x) const;

 private:
  int64_t r_ = 0, n_ = 0, batch_ = 0, num_dst_ = 0;
  at::Tensor a_idx_, b_idx_;               // [1, N - dst, 1] sources, [1, dst, 1] destinations
  at::Tensor unm_idx_, src_idx_, dst_idx_;  // [B, *, 1]: into the sources / destinations
};

// tomesd's compute_merge for a transformer block's input x [B, N, C] under `state`: inactive where
// the block is deeper than max_downsample or the ratio gives r == 0.
BipartiteMerge tome_merge_for(const at::Tensor& x, TomeState& state);

}  // namespace sdw::nn
