// ToMe's bipartite soft matching (model/nn/token_merge.h) on small token grids, against results
// worked out by hand from tomesd's algorithm: destinations one per 2x2 cell, each source matched
// to its most cosine-similar destination, the r best-matched sources averaged into it (mean with
// the destination), the rest kept in descending-similarity order; unmerge copies back.
#include <catch.hpp>

#include <cmath>
#include <set>
#include <vector>

#include "model/nn/token_merge.h"
#include "model/pipeline/rng.h"

using namespace sdw;

namespace {

// A 2 x 4 grid (h = 2, w = 4) of 2-d metric vectors. Without random cells the destinations are
// the top-left tokens of the two 2x2 cells: 0 and 2. Cosine similarity to (1, 0) / (0, 1):
//   t1 (1, .1): .995 -> 0      t3 (.2, 1): .981 -> 2     t4 (1, .5): .894 -> 0
//   t5 (.6, 1): .857 -> 2      t6 (1, .8): .781 -> 0     t7 (-1, .2): .196 -> 2
at::Tensor grid_metric() {
  return at::tensor({1.f, 0.f, 1.f, .1f, 0.f, 1.f, .2f, 1.f, 1.f, .5f, .6f, 1.f, 1.f, .8f, -1.f, .2f}).view({1, 8, 2});
}

// Token k's features: (k, 10 k, 100 k), so each output row says which tokens made it.
at::Tensor features(int64_t batch = 1) {
  at::Tensor k = at::arange(8, at::kFloat).view({1, 8, 1});
  return at::cat({k, k * 10, k * 100}, -1).repeat({batch, 1, 1});  // [B, 8, 3]
}

at::Tensor row(float k) { return at::tensor({k, k * 10, k * 100}); }

}  // namespace

TEST_CASE("bipartite matching merges the r most similar sources into their destinations", "[tome]") {
  const nn::BipartiteMerge m(grid_metric(), /*w=*/4, /*h=*/2, 2, 2, /*r=*/4, /*use_rand=*/false, {});
  REQUIRE(m.active());
  const at::Tensor merged = m.merge(features());
  REQUIRE(merged.sizes() == at::IntArrayRef({1, 4, 3}));
  // kept sources t6 (.781) then t7 (.196); then destination 0 = mean(t0, t1, t4), 2 = mean(t2, t3, t5)
  CHECK(at::allclose(merged[0][0], row(6)));
  CHECK(at::allclose(merged[0][1], row(7)));
  CHECK(at::allclose(merged[0][2], row((0 + 1 + 4) / 3.f)));
  CHECK(at::allclose(merged[0][3], row((2 + 3 + 5) / 3.f)));

  // unmerge: every token takes its row of the merged set back (the merged sources their destination's)
  const at::Tensor y = at::stack({row(60), row(70), row(100), row(200)}).unsqueeze(0);  // [1, 4, 3]
  const at::Tensor back = m.unmerge(y);
  REQUIRE(back.sizes() == at::IntArrayRef({1, 8, 3}));
  const float want[8] = {100, 100, 200, 200, 100, 200, 60, 70};
  for (int k = 0; k < 8; ++k) CHECK(at::equal(back[0][k], row(want[k])));
}

TEST_CASE("r = 2 keeps the four weakest sources; r = 0 is the identity", "[tome]") {
  const nn::BipartiteMerge m(grid_metric(), 4, 2, 2, 2, 2, false, {});
  const at::Tensor merged = m.merge(features());
  REQUIRE(merged.size(1) == 6);
  // kept in descending similarity: t4, t5, t6, t7; destination 0 += t1, destination 2 += t3
  for (int i = 0; i < 4; ++i) CHECK(at::allclose(merged[0][i], row(static_cast<float>(4 + i))));
  CHECK(at::allclose(merged[0][4], row(0.5f)));
  CHECK(at::allclose(merged[0][5], row(2.5f)));
  const nn::BipartiteMerge none(grid_metric(), 4, 2, 2, 2, 0, false, {});
  CHECK_FALSE(none.active());
  CHECK(at::equal(none.merge(features()), features()));
  CHECK(at::equal(none.unmerge(features()), features()));
}

TEST_CASE("random destinations: one per 2x2 cell, drawn from the generator", "[tome]") {
  // A 4x4 grid with every source merged (r = 12) and one-hot features: each of the 4 rows left is
  // a destination's mean with its sources, so its non-zero entries name them. Destinations come
  // in raster order, so row i must hold the i-th drawn destination and no other.
  const at::Tensor x = at::eye(16).unsqueeze(0).repeat({2, 1, 1});  // [2, 16, 16]
  for (uint64_t seed : {0ull, 1ull, 7ull}) {
    CAPTURE(seed);
    at::manual_seed(seed);
    const at::Tensor metric = at::randn({2, 16, 3});
    const at::Tensor draw = at::randint(4, {2, 2, 1}, make_cpu_generator(seed), at::TensorOptions().dtype(at::kLong));
    const nn::BipartiteMerge m(metric, 4, 4, 2, 2, 12, true, make_cpu_generator(seed));
    const at::Tensor merged = m.merge(x);
    REQUIRE(merged.sizes() == at::IntArrayRef({2, 4, 16}));
    // The drawn destination of cell (cy, cx) is token (2 cy + d / 2) * 4 + 2 cx + d % 2.
    std::set<int64_t> dst;
    for (int cy = 0; cy < 2; ++cy)
      for (int cx = 0; cx < 2; ++cx) {
        const int64_t d = draw[cy][cx][0].item<int64_t>();
        dst.insert((2 * cy + d / 2) * 4 + 2 * cx + d % 2);
      }
    REQUIRE(dst.size() == 4);
    std::vector<int64_t> dst_sorted(dst.begin(), dst.end());
    for (int64_t b = 0; b < 2; ++b) {
      int64_t covered = 0;
      for (int64_t i = 0; i < 4; ++i) {
        const at::Tensor support = merged[b][i].gt(0);
        covered += support.sum().item<int64_t>();
        for (int64_t d : dst_sorted) CHECK(support[d].item<bool>() == (d == dst_sorted[static_cast<size_t>(i)]));
      }
      CHECK(covered == 16);  // the four rows share out all 16 tokens
    }
  }
}

TEST_CASE("tome_merge_for: r = int(N * ratio) at full resolution only, random cells off for odd batches", "[tome]") {
  nn::TomeState state;
  state.settings.ratio = 0.5;
  state.height = 4;
  state.width = 4;
  state.generator = make_cpu_generator(0);
  CHECK(nn::tome_merge_for(at::randn({2, 16, 8}), state).r() == 8);
  CHECK_FALSE(nn::tome_merge_for(at::randn({2, 4, 8}), state).active());  // 2x downsampled: max_downsample 1
  state.settings.max_downsample = 2;
  CHECK(nn::tome_merge_for(at::randn({2, 4, 8}), state).r() == 2);
  state.settings.ratio = 0.3;
  CHECK(nn::tome_merge_for(at::randn({2, 16, 8}), state).r() == 4);  // int(4.8)
  state.settings.ratio = 0;
  CHECK_FALSE(nn::tome_merge_for(at::randn({2, 16, 8}), state).active());
  // An odd batch: top-left destinations whatever the generator (no draw is taken from it).
  state.settings.ratio = 0.5;
  const at::Tensor before = state.generator.get_state();
  nn::tome_merge_for(at::randn({1, 16, 8}), state);
  CHECK(at::equal(state.generator.get_state(), before));
  nn::tome_merge_for(at::randn({2, 16, 8}), state);
  CHECK_FALSE(at::equal(state.generator.get_state(), before));
}
