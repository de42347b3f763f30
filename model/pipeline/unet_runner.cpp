// The UNet step, eager or replayed as a CUDA graph (see unet_runner.h). Everything CUDA-specific
// is behind SDW_WITH_CUDA; SDW_NO_CUDA_GRAPHS (CMake -DSDW_CUDA_GRAPHS=OFF) compiles the graph
// code out of a CUDA build, an escape hatch should a libtorch's CUDAGraph API not match.
#include "model/pipeline/unet_runner.h"

#if defined(SDW_WITH_CUDA) && !defined(SDW_NO_CUDA_GRAPHS)
#define SDW_CUDA_GRAPHS 1
#endif

#include <algorithm>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#ifdef SDW_CUDA_GRAPHS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace sdw {
namespace {

bool graphs_env_enabled() {
  const char* v = std::getenv("SDW_CUDA_GRAPHS");
  return !(v && std::string(v) == "0");
}

#ifdef SDW_CUDA_GRAPHS
std::string first_line(const std::string& s) {
  const std::string line = s.substr(0, s.find('\n'));
  return line.size() > 160 ? line.substr(0, 160) + "..." : line;
}

// What a graph is specialised on: every input shape, the dtype, device and memory format.
std::vector<int64_t> graph_key(const at::Tensor& sample, const at::Tensor& t, const at::Tensor& context,
                               const UNetAddedCond& added) {
  std::vector<int64_t> key(sample.sizes().begin(), sample.sizes().end());
  key.push_back(t.dim());
  key.insert(key.end(), t.sizes().begin(), t.sizes().end());
  key.push_back(static_cast<int64_t>(sample.scalar_type()));
  key.push_back(sample.device().index());
  key.push_back(sample.is_contiguous(at::MemoryFormat::ChannelsLast) && !sample.is_contiguous() ? 1 : 0);
  for (const at::Tensor* t : {&context, &added.text_embeds, &added.time_ids}) {
    key.push_back(t->defined() ? t->dim() : -1);
    if (t->defined()) key.insert(key.end(), t->sizes().begin(), t->sizes().end());
  }
  return key;
}
#endif

}  // namespace

#ifdef SDW_CUDA_GRAPHS
// One captured step: its graph and the static tensors it reads and writes.
struct GraphEntry {
  std::vector<int64_t> key;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  at::Tensor sample, t, context, text_embeds, time_ids;  // inputs, copied into before each replay
  at::Tensor output;                                     // written by each replay
  uint64_t last_use = 0;
};

struct UNetRunner::Graphs {
  std::vector<std::unique_ptr<GraphEntry>> entries;
  std::set<std::vector<int64_t>> failed;  // shapes whose capture failed: eager from then on
  uint64_t clock = 0;
  // Every graph shares the first graph's memory pool. That is safe because replays never overlap
  // (one stream) and each replay's output is copied out before the next replay.
  bool have_pool = false;
  decltype(std::declval<at::cuda::CUDAGraph&>().pool()) pool{};

  GraphEntry* find(const std::vector<int64_t>& key) {
    for (auto& e : entries)
      if (e->key == key) return e.get();
    return nullptr;
  }

  void evict_to(size_t n) {
    while (entries.size() > n) {
      auto oldest = std::min_element(entries.begin(), entries.end(),
                                     [](const auto& a, const auto& b) { return a->last_use < b->last_use; });
      entries.erase(oldest);
    }
  }
};

namespace {

// `t`: the timestep as a double scalar tensor, or one per sample [B] (on the CPU).
void copy_inputs(GraphEntry& e, const at::Tensor& sample, const at::Tensor& t, const at::Tensor& context,
                 const UNetAddedCond& added) {
  e.sample.copy_(sample);
  if (t.dim() == 0)
    e.t.fill_(t.item<double>());
  else
    e.t.copy_(t);
  e.context.copy_(context);
  if (e.text_embeds.defined()) e.text_embeds.copy_(added.text_embeds);
  if (e.time_ids.defined()) e.time_ids.copy_(added.time_ids);
}

// Static buffers, warm-up on a side stream (cuBLAS/cuDNN workspaces and handles are made there,
// outside the capture), then the capture of one forward on that stream.
std::unique_ptr<GraphEntry> capture(UNet2DConditionModel& unet, UNetRunner::Graphs& g, std::vector<int64_t> key,
                                    const at::Tensor& sample, const at::Tensor& t, const at::Tensor& context,
                                    const UNetAddedCond& added) {
  auto e = std::make_unique<GraphEntry>();
  e->key = std::move(key);
  e->sample = at::empty_like(sample);
  e->t = at::empty(t.sizes(), sample.options().dtype(at::kDouble));
  e->context = at::empty_like(context);
  if (added.text_embeds.defined()) e->text_embeds = at::empty_like(added.text_embeds);
  if (added.time_ids.defined()) e->time_ids = at::empty_like(added.time_ids);
  copy_inputs(*e, sample, t, context, added);
  UNetAddedCond static_added{e->text_embeds, e->time_ids};

  const auto device_index = sample.device().index();
  c10::cuda::device_synchronize();
  c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device_index);
  {
    c10::cuda::CUDAStreamGuard on_side(side);
    for (int i = 0; i < 2; ++i) unet->forward(e->sample, e->t, e->context, static_added);
    side.synchronize();
    e->graph = std::make_unique<at::cuda::CUDAGraph>();
    if (g.have_pool)
      e->graph->capture_begin(g.pool);
    else
      e->graph->capture_begin();
    try {
      e->output = unet->forward(e->sample, e->t, e->context, static_added);
    } catch (...) {
      try {
        e->graph->capture_end();  // leave capture mode; the graph is invalid anyway
      } catch (...) {
      }
      throw;
    }
    e->graph->capture_end();
  }
  side.synchronize();
  if (!g.have_pool) {
    g.pool = e->graph->pool();
    g.have_pool = true;
  }
  return e;
}

}  // namespace
#else
struct UNetRunner::Graphs {};
#endif

UNetRunner::UNetRunner(UNet2DConditionModel unet, bool use_graphs)
    : unet_(std::move(unet)), use_graphs_(use_graphs && graphs_env_enabled()) {}

UNetRunner::~UNetRunner() = default;

bool UNetRunner::graphs_supported() {
#ifdef SDW_CUDA_GRAPHS
  return true;
#else
  return false;
#endif
}

UNetRunnerStats UNetRunner::stats() const { return stats_; }

void UNetRunner::clear() {
  graphs_.reset();
  stats_.graphs = 0;
}

at::Tensor UNetRunner::eager(const at::Tensor& sample, const at::Tensor& t, const at::Tensor& context,
                             const UNetAddedCond& added, const UNetControlResiduals& control) {
  ++stats_.eager_calls;
  return unet_->forward(sample, t, context, added, control);
}

at::Tensor UNetRunner::forward(const at::Tensor& sample, double t, const at::Tensor& context,
                               const UNetAddedCond& added, const UNetControlResiduals& control) {
  at::Tensor tt = at::scalar_tensor(t, at::TensorOptions().dtype(at::kDouble));
  if (!control.empty()) {
    stats_.mode = "eager (ControlNet residuals)";
    return eager(sample, tt, context, added, control);
  }
  return forward(sample, tt, context, added);
}

at::Tensor UNetRunner::forward(const at::Tensor& sample, const at::Tensor& t, const at::Tensor& context,
                               const UNetAddedCond& added) {
  if (!sample.is_cuda()) {
    stats_.mode = "eager (" + sample.device().str() + ")";
    return eager(sample, t, context, added);
  }
  if (!graphs_supported()) {
    stats_.mode = "eager (this libtorch has no CUDA graphs)";
    return eager(sample, t, context, added);
  }
  if (!use_graphs_) {
    stats_.mode = "eager (CUDA graphs off)";
    return eager(sample, t, context, added);
  }
#ifdef SDW_CUDA_GRAPHS
  if (!graphs_) graphs_ = std::make_unique<Graphs>();
  Graphs& g = *graphs_;
  std::vector<int64_t> key = graph_key(sample, t, context, added);
  if (g.failed.count(key)) return eager(sample, t, context, added);
  GraphEntry* e = g.find(key);
  if (!e) {
    try {
      g.evict_to(static_cast<size_t>(kMaxUNetGraphs - 1));
      g.entries.push_back(capture(unet_, g, key, sample, t, context, added));
      e = g.entries.back().get();
      stats_.graphs = static_cast<int64_t>(g.entries.size());
    } catch (const std::exception& ex) {
      g.failed.insert(key);
      ++stats_.failed_captures;
      stats_.mode = "eager (capture failed: " + first_line(ex.what()) + ")";
      return eager(sample, t, context, added);
    }
  }
  e->last_use = ++g.clock;
  copy_inputs(*e, sample, t, context, added);
  e->graph->replay();
  ++stats_.replays;
  stats_.mode = "cuda graph";
  return e->output.clone();
#else
  return eager(sample, t, context, added);
#endif
}

}  // namespace sdw
