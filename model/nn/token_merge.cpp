// Token merging for SD (see token_merge.h).
#include "model/nn/token_merge.h"

#include <algorithm>
#include <cmath>

namespace sdw::nn {
namespace {

const at::TensorOptions kIndex = at::TensorOptions().dtype(at::kLong);

// Stable argsort along `dim` (tomesd's argsort; stable so that equal keys keep raster order).
at::Tensor argsort_stable(const at::Tensor& x, int64_t dim, bool descending) {
  return std::get<1>(x.sort(/*stable=*/true, dim, descending));
}

}  // namespace

BipartiteMerge::BipartiteMerge(const at::Tensor& metric_in, int64_t w, int64_t h, int64_t sx, int64_t sy, int64_t r,
                               bool use_rand, const at::Generator& generator)
    : n_(metric_in.size(1)), batch_(metric_in.size(0)) {
  if (r <= 0) return;
  const auto device = metric_in.device();
  const int64_t hsy = h / sy, wsx = w / sx;
  // One destination per sy x sx cell: a random position (or the first), marked -1; sources 0.
  at::Tensor rand_idx = use_rand && generator.defined()
                            ? at::randint(sy * sx, {hsy, wsx, 1}, generator, kIndex)
                            : at::zeros({hsy, wsx, 1}, kIndex);
  at::Tensor view = at::zeros({hsy, wsx, sy * sx}, kIndex);
  view.scatter_(2, rand_idx, -at::ones_like(rand_idx));
  view = view.view({hsy, wsx, sy, sx}).transpose(1, 2).reshape({hsy * sy, wsx * sx});  // [h', w']
  at::Tensor buffer = view;
  if (hsy * sy < h || wsx * sx < w) {  // cells that do not fit stay sources
    buffer = at::zeros({h, w}, kIndex);
    buffer.narrow(0, 0, hsy * sy).narrow(1, 0, wsx * sx).copy_(view);
  }
  at::Tensor order = argsort_stable(buffer.reshape({1, -1, 1}), 1, false).to(device);  // [1, N, 1]: dst | src
  num_dst_ = hsy * wsx;
  a_idx_ = order.narrow(1, num_dst_, n_ - num_dst_);  // sources
  b_idx_ = order.narrow(1, 0, num_dst_);              // destinations

  at::Tensor metric = metric_in / metric_in.norm(2, -1, true);  // cosine similarity
  const int64_t c = metric.size(2);
  at::Tensor a = at::gather(metric, 1, a_idx_.expand({batch_, n_ - num_dst_, c}));
  at::Tensor b = at::gather(metric, 1, b_idx_.expand({batch_, num_dst_, c}));
  at::Tensor scores = at::matmul(a, b.transpose(-1, -2));  // [B, src, dst]
  r_ = std::min<int64_t>(a.size(1), r);
  auto [node_max, node_idx] = scores.max(-1);                                  // [B, src]
  at::Tensor edge_idx = argsort_stable(node_max, -1, true).unsqueeze(-1);      // [B, src, 1]
  unm_idx_ = edge_idx.narrow(1, r_, edge_idx.size(1) - r_);                     // kept sources
  src_idx_ = edge_idx.narrow(1, 0, r_);                                          // merged sources
  dst_idx_ = at::gather(node_idx.unsqueeze(-1), 1, src_idx_);                    // their destinations
}

at::Tensor BipartiteMerge::merge(const at::Tensor& x) const {
  if (!active()) return x;
  const int64_t n = x.size(0), c = x.size(2), t1 = n_ - num_dst_;
  at::Tensor src = at::gather(x, 1, a_idx_.expand({n, t1, c}));
  at::Tensor dst = at::gather(x, 1, b_idx_.expand({n, num_dst_, c}));
  at::Tensor unm = at::gather(src, 1, unm_idx_.expand({n, t1 - r_, c}));
  src = at::gather(src, 1, src_idx_.expand({n, r_, c}));
  dst = dst.scatter_reduce(1, dst_idx_.expand({n, r_, c}), src, "mean", /*include_self=*/true);
  return at::cat({unm, dst}, 1);  // [B, N - r, c]
}

at::Tensor BipartiteMerge::unmerge(const at::Tensor& x) const {
  if (!active()) return x;
  const int64_t unm_len = unm_idx_.size(1), c = x.size(2), na = a_idx_.size(1);
  at::Tensor unm = x.narrow(1, 0, unm_len);
  at::Tensor dst = x.narrow(1, unm_len, x.size(1) - unm_len);
  at::Tensor src = at::gather(dst, 1, dst_idx_.expand({batch_, r_, c}));
  at::Tensor a = a_idx_.expand({batch_, na, 1});
  at::Tensor out = at::zeros({batch_, n_, c}, x.options());
  out.scatter_(1, b_idx_.expand({batch_, num_dst_, c}), dst);
  out.scatter_(1, at::gather(a, 1, unm_idx_).expand({batch_, unm_len, c}), unm);
  out.scatter_(1, at::gather(a, 1, src_idx_).expand({batch_, r_, c}), src);
  return out;  // [B, N, c]
}

BipartiteMerge tome_merge_for(const at::Tensor& x, TomeState& state) {
  const TomeSettings& s = state.settings;
  if (s.ratio <= 0 || state.height <= 0 || state.width <= 0) return {};
  const int64_t tokens = x.size(1), original = state.height * state.width;
  const auto downsample = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(original / tokens))));
  if (downsample > s.max_downsample) return {};
  const auto w = static_cast<int64_t>(std::ceil(static_cast<double>(state.width) / downsample));
  const auto h = static_cast<int64_t>(std::ceil(static_cast<double>(state.height) / downsample));
  const auto r = static_cast<int64_t>(static_cast<double>(tokens) * s.ratio);
  // An odd batch cannot hold paired CFG rows: tomesd turns the random cells off for it.
  const bool use_rand = x.size(0) % 2 == 1 ? false : s.use_rand;
  return BipartiteMerge(x, w, h, s.sx, s.sy, r, use_rand, state.generator);
}

}  // namespace sdw::nn
