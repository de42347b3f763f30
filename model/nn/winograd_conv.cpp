// Winograd 3x3 convolutions through oneDNN (see winograd_conv.h).
#include "model/nn/winograd_conv.h"

#include "model/nn/env_switch.h"

#include <atomic>
#include <cstring>

#if defined(SDW_WITH_DNNL)
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <sys/mman.h>

#include <dnnl.hpp>
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <vector>
#endif

namespace sdw::nn {
namespace {

std::atomic<bool>& winograd_flag() {
  static std::atomic<bool> flag{cpu_winograd_available() && env_switch("SDW_CPU_WINOGRAD", true)};
  return flag;
}

#if defined(SDW_WITH_DNNL)

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// One band's convolution: input rows [N, C, rows_in, W] with `pad_top`/`pad_bottom` zero rows
// (1 at the image's edges, 0 where the halo is real data) -> [N, O, rows_out, W].
struct BandKey {
  int64_t n, c, o, rows_in, w, pad_top, pad_bottom;
  bool bias;
  bool operator<(const BandKey& k) const {
    return std::tie(n, c, o, rows_in, w, pad_top, pad_bottom, bias) <
           std::tie(k.n, k.c, k.o, k.rows_in, k.w, k.pad_top, k.pad_bottom, k.bias);
  }
};

struct BandConv {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  int64_t rows_out = 0;
  size_t src_bytes = 0, dst_bytes = 0, weight_bytes = 0, scratch_bytes = 0;
};

// The Winograd primitive for `k`, or null where oneDNN has none (cached either way).
std::shared_ptr<const BandConv> band_conv(const BandKey& k) {
  static std::mutex mutex;
  static std::map<BandKey, std::shared_ptr<const BandConv>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = cache.find(k); it != cache.end()) return it->second;
  if (cache.size() > 512) cache.clear();  // many distinct sizes: rebuild what is used
  std::shared_ptr<BandConv> conv;
  try {
    const int64_t rows_out = k.rows_in + k.pad_top + k.pad_bottom - 2;
    const dnnl::memory::desc src({k.n, k.c, k.rows_in, k.w}, dt::f32, tag::any);
    const dnnl::memory::desc wei({k.o, k.c, 3, 3}, dt::f32, tag::any);
    const dnnl::memory::desc bias = k.bias ? dnnl::memory::desc({k.o}, dt::f32, tag::x) : dnnl::memory::desc();
    const dnnl::memory::desc dst({k.n, k.o, rows_out, k.w}, dt::f32, tag::any);
    // forward_training: the kernel transforms the (blocked, untransformed) weights itself on each
    // call; forward_inference would want them pre-transformed (4x their size) to be fast.
    const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_winograd,
                                            src, wei, bias, dst, {1, 1}, {k.pad_top, 1}, {k.pad_bottom, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::convolution_forward::primitive_desc pd(d, attr, cpu_engine());
    if (std::strstr(pd.impl_info_str(), "wino")) {
      conv = std::make_shared<BandConv>();
      conv->pd = pd;
      conv->prim = dnnl::convolution_forward(pd);
      conv->rows_out = rows_out;
      conv->src_bytes = pd.src_desc().get_size();
      conv->dst_bytes = pd.dst_desc().get_size();
      conv->weight_bytes = pd.weights_desc().get_size();
      conv->scratch_bytes = pd.scratchpad_desc().get_size();
    }
  } catch (const dnnl::error&) {
    conv.reset();  // no Winograd kernel for these shapes on this CPU
  }
  cache.emplace(k, conv);
  return conv;
}

// Scratch buffers kept between calls: anonymous mappings (huge pages where the kernel allows).
struct Buffer {
  void* data = nullptr;
  size_t bytes = 0;
};

std::mutex pool_mutex;
std::vector<Buffer> pool;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// A pooled buffer of `bytes` to twice that; when none fits, the pooled ones are unmapped first, so
// the pool holds at most one buffer per convolution running at the same time, and a layer with a
// small buffer (the VAE's last, full-resolution ones, where the decode peaks) does not keep the
// large buffer of an earlier one alive.
Buffer acquire(size_t bytes) {
  std::vector<Buffer> too_small;
  {
    std::lock_guard<std::mutex> lock(pool_mutex);
    for (size_t i = 0; i < pool.size(); ++i) {
      if (pool[i].bytes >= bytes && pool[i].bytes <= 2 * round_up(bytes, size_t{2} << 20)) {
        Buffer b = pool[i];
        pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(i));
        return b;
      }
    }
    too_small.swap(pool);
  }
  for (const Buffer& b : too_small) ::munmap(b.data, b.bytes);
  Buffer b;
  b.bytes = round_up(bytes, size_t{2} << 20);
  b.data = ::mmap(nullptr, b.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b.data == MAP_FAILED) throw std::bad_alloc();
  ::madvise(b.data, b.bytes, MADV_HUGEPAGE);
  return b;
}

void give_back(Buffer b) {
  std::lock_guard<std::mutex> lock(pool_mutex);
  pool.push_back(b);
}

// Returns the buffer to the pool however the convolution ends.
struct Lease {
  Buffer buffer;
  explicit Lease(size_t bytes) : buffer(acquire(bytes)) {}
  ~Lease() { give_back(buffer); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  char* at(size_t offset) const { return static_cast<char*>(buffer.data) + offset; }
};

bool winograd_supported_here() {
  const auto probe = band_conv({1, 16, 16, 16, 16, 1, 1, false});
  return probe != nullptr;
}

#endif  // SDW_WITH_DNNL

}  // namespace

bool cpu_winograd_available() {
#if defined(SDW_WITH_DNNL)
  static const bool ok = at::hasMKLDNN() && winograd_supported_here();
  return ok;
#else
  return false;
#endif
}

bool cpu_winograd_enabled() { return winograd_flag().load(std::memory_order_relaxed); }
void set_cpu_winograd(bool enabled) { winograd_flag().store(enabled && cpu_winograd_available()); }

bool winograd_conv_eligible(const at::Tensor& x, const at::Tensor& weight, int64_t padding, int64_t stride) {
  if (!cpu_winograd_enabled() || padding != 1 || stride != 1 || x.dim() != 4 || weight.dim() != 4) return false;
  if (!x.device().is_cpu() || x.scalar_type() != at::kFloat || weight.scalar_type() != at::kFloat || x.requires_grad() ||
      x.is_mkldnn() || !x.is_contiguous())
    return false;
  const int64_t o = weight.size(0), c = weight.size(1);
  return weight.size(2) == 3 && weight.size(3) == 3 && x.size(1) == c && c % 16 == 0 && o % 16 == 0 &&
         x.size(0) * x.size(2) * x.size(3) >= kWinogradMinPixels;
}

at::Tensor winograd_conv2d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, int64_t band_bytes) {
#if defined(SDW_WITH_DNNL)
  RECORD_FUNCTION("sdw::winograd_conv2d", std::vector<c10::IValue>({x, weight}));
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), o = weight.size(0);
  const bool has_bias = bias.defined();
  // Output channels per chunk: all, or a multiple of 16 whose transformed weights fit the budget.
  int64_t chunk = o;
  if (o * c * 36 * 4 > kWinogradMaxWeightBytes)
    chunk = std::max<int64_t>(16, kWinogradMaxWeightBytes / (c * 36 * 4) / 16 * 16);
  const auto full = band_conv({n, c, chunk, h, w, 1, 1, has_bias});
  if (!full) return {};
  // Rows per band: all of them, or a multiple of 4 (the 4x4 output tiles) whose share of the work
  // buffer (input, output and their transformed tiles, which grow with the rows; not the chunk's
  // transformed weights, which do not) fits the band budget. The share per row comes from the full
  // convolution and a 4-row band.
  int64_t rows = h;
  const size_t full_bytes = full->src_bytes + full->dst_bytes + full->scratch_bytes;
  if (h > 8 && full_bytes > static_cast<size_t>(band_bytes)) {
    const auto four = band_conv({n, c, chunk, 6, w, 0, 0, has_bias});
    if (!four) return {};
    const size_t four_bytes = four->src_bytes + four->dst_bytes + four->scratch_bytes;
    const size_t per_row = (full_bytes > four_bytes ? full_bytes - four_bytes : 0) / static_cast<size_t>(h - 4) + 1;
    rows = std::min<int64_t>(h, std::max<int64_t>(4, static_cast<int64_t>(static_cast<size_t>(band_bytes) / per_row) / 4 * 4));
  }

  // One product per band of output rows and chunk of output channels.
  struct Piece {
    int64_t r0, r1, in0, o0, o1;
    std::shared_ptr<const BandConv> conv;
  };
  std::vector<Piece> pieces;
  size_t weight_region = 0, src_region = 0, dst_region = 0, scratch_region = 0;
  for (int64_t r0 = 0; r0 < h; r0 += rows) {
    const int64_t r1 = std::min(h, r0 + rows);
    const int64_t in0 = std::max<int64_t>(0, r0 - 1), in1 = std::min(h, r1 + 1);
    for (int64_t o0 = 0; o0 < o; o0 += chunk) {
      const int64_t o1 = std::min(o, o0 + chunk);
      auto conv = rows == h && o1 - o0 == chunk
                      ? full
                      : band_conv({n, c, o1 - o0, in1 - in0, w, r0 == 0 ? 1 : 0, r1 == h ? 1 : 0, has_bias});
      if (!conv || conv->rows_out != r1 - r0) return {};
      weight_region = std::max(weight_region, round_up(conv->weight_bytes, 4096));
      src_region = std::max(src_region, round_up(conv->src_bytes, 4096));
      dst_region = std::max(dst_region, round_up(conv->dst_bytes, 4096));
      scratch_region = std::max(scratch_region, round_up(conv->scratch_bytes, 4096));
      pieces.push_back({r0, r1, in0, o0, o1, std::move(conv)});
    }
  }

  at::internal::lazy_init_num_threads();
  const at::Tensor wt = weight.contiguous();  // [O, C, 3, 3]: a chunk of output channels is contiguous
  const at::Tensor b = has_bias ? bias.contiguous() : at::Tensor();
  at::Tensor y = at::empty({n, o, h, w}, x.options());  // [N, O, H, W]
  // Work buffer: the chunk's blocked weights, the band's blocked input and output, the scratch.
  Lease lease(weight_region + src_region + dst_region + scratch_region);
  const dnnl::engine& engine = cpu_engine();
  dnnl::stream stream(engine);
  float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  float* wp = wt.data_ptr<float>();
  float* bp = has_bias ? b.data_ptr<float>() : nullptr;
  int64_t src_row = -1;  // the band whose input rows the work buffer holds
  dnnl::memory::desc src_desc;
  for (const Piece& piece : pieces) {
    const BandConv& conv = *piece.conv;
    const int64_t rows_in = conv.pd.src_desc().dims()[2], rows_out = piece.r1 - piece.r0, oc = piece.o1 - piece.o0;
    dnnl::memory weights(conv.pd.weights_desc(), engine, lease.at(0));
    dnnl::memory src(conv.pd.src_desc(), engine, lease.at(weight_region));
    dnnl::memory dst(conv.pd.dst_desc(), engine, lease.at(weight_region + src_region));
    dnnl::memory scratch(conv.pd.scratchpad_desc(), engine, lease.at(weight_region + src_region + dst_region));
    dnnl::memory user_weights({{oc, c, 3, 3}, dt::f32, tag::oihw}, engine, wp + piece.o0 * c * 9);
    dnnl::reorder(user_weights, weights).execute(stream, user_weights, weights);
    if (piece.r0 != src_row || conv.pd.src_desc() != src_desc) {
      // The band's rows of x in place: NCHW with the full image's strides.
      dnnl::memory user_src(dnnl::memory::desc({n, c, rows_in, w}, dt::f32, {c * h * w, h * w, w, 1}), engine,
                            xp + piece.in0 * w);
      dnnl::reorder(user_src, src).execute(stream, user_src, src);
      src_row = piece.r0;
      src_desc = conv.pd.src_desc();
    }
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, scratch}};
    if (has_bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory({{oc}, dt::f32, tag::x}, engine, bp + piece.o0));
    conv.prim.execute(stream, args);
    dnnl::memory user_dst(dnnl::memory::desc({n, oc, rows_out, w}, dt::f32, {o * h * w, h * w, w, 1}), engine,
                          yp + piece.o0 * h * w + piece.r0 * w);
    dnnl::reorder(dst, user_dst).execute(stream, dst, user_dst);
  }
  stream.wait();
  return y;
#else
  return {};
#endif
}

int64_t winograd_scratch_bytes() {
#if defined(SDW_WITH_DNNL)
  std::lock_guard<std::mutex> lock(pool_mutex);
  int64_t total = 0;
  for (const Buffer& b : pool) total += static_cast<int64_t>(b.bytes);
  return total;
#else
  return 0;
#endif
}

void release_winograd_scratch() {
#if defined(SDW_WITH_DNNL)
  std::lock_guard<std::mutex> lock(pool_mutex);
  for (const Buffer& b : pool) ::munmap(b.data, b.bytes);
  pool.clear();
#endif
}

}  // namespace sdw::nn
