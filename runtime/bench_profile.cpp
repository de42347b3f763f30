// Operator profile of one run (see bench_profile.h).
#include "runtime/bench_profile.h"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <utility>

#include "runtime/device_sync.h"

namespace sdw {
namespace {

namespace prof = torch::autograd::profiler;

std::string shapes_text(const std::vector<std::vector<int64_t>>& shapes) {
  std::ostringstream s;
  bool first = true;
  for (const auto& shape : shapes) {
    if (shape.empty()) continue;  // scalars and non-tensor arguments
    s << (first ? "" : " ") << '[';
    for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
    s << ']';
    first = false;
  }
  return s.str();
}

struct Open {
  const prof::LegacyEvent* push;
  double children_us = 0;
};

std::vector<OpProfileRow> sorted(std::map<std::pair<std::string, std::string>, OpProfileRow>& rows) {
  std::vector<OpProfileRow> out;
  out.reserve(rows.size());
  for (auto& [key, row] : rows) out.push_back(std::move(row));
  std::sort(out.begin(), out.end(), [](const OpProfileRow& a, const OpProfileRow& b) { return a.self_ms > b.self_ms; });
  return out;
}

}  // namespace

OpProfile profile_ops(const at::Device& device, const std::function<void()>& fn) {
  const bool cuda = device.is_cuda();
  synchronize(device);
  prof::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(
      cuda ? torch::profiler::impl::ProfilerState::CUDA : torch::profiler::impl::ProfilerState::CPU,
      /*report_input_shapes=*/true));
  const auto t0 = std::chrono::steady_clock::now();
  try {
    fn();
    synchronize(device);
  } catch (...) {
    prof::disableProfilerLegacy();
    throw;
  }
  OpProfile p;
  p.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const prof::thread_event_lists lists = prof::disableProfilerLegacy();

  std::map<std::pair<std::string, std::string>, OpProfileRow> by_op, by_shapes;
  for (const auto& events : lists) {
    std::vector<Open> stack;  // the operators open on this thread, innermost last
    for (const auto& e : events) {
      if (e.kind() == prof::EventKind::PushRange) {
        stack.push_back({&e});
        continue;
      }
      if (e.kind() != prof::EventKind::PopRange) continue;
      // Pops close the innermost open operator with their handle (operators nest on one thread).
      auto it = std::find_if(stack.rbegin(), stack.rend(), [&](const Open& o) { return o.push->handle() == e.handle(); });
      if (it == stack.rend()) continue;
      const Open open = *it;
      stack.erase(std::next(it).base(), stack.end());
      const double total_us = cuda && open.push->hasCuda() ? open.push->cudaElapsedUs(e) : open.push->cpuElapsedUs(e);
      const double self_us = std::max(0.0, total_us - open.children_us);
      if (!stack.empty()) stack.back().children_us += total_us;
      const std::string name = open.push->name();
      for (auto* table : {&by_op, &by_shapes}) {
        OpProfileRow& r = (*table)[{name, table == &by_op ? std::string() : shapes_text(open.push->shapes())}];
        if (r.name.empty()) {
          r.name = name;
          if (table == &by_shapes) r.shapes = shapes_text(open.push->shapes());
        }
        ++r.calls;
        r.self_ms += self_us / 1000.0;
      }
    }
  }
  p.by_op = sorted(by_op);
  p.by_shapes = sorted(by_shapes);
  return p;
}

void print_op_profile(const std::string& title, const OpProfile& p, size_t top) {
  double sum = 0;
  for (const auto& r : p.by_op) sum += r.self_ms;
  std::printf("\n%s: %.1f ms wall, %.1f ms in operators (self times)\n", title.c_str(), p.wall_ms, sum);
  std::printf("| %-40s | %6s | %10s | %6s |\n", "operator", "calls", "self ms", "%");
  std::printf("|------------------------------------------|--------|------------|--------|\n");
  for (size_t i = 0; i < std::min(top, p.by_op.size()); ++i) {
    const auto& r = p.by_op[i];
    std::printf("| %-40s | %6lld | %10.1f | %5.1f%% |\n", r.name.c_str(), static_cast<long long>(r.calls), r.self_ms,
                p.wall_ms > 0 ? 100.0 * r.self_ms / p.wall_ms : 0.0);
  }
  std::printf("\n| %-32s | %-48s | %6s | %10s | %6s |\n", "operator", "input shapes", "calls", "self ms", "%");
  std::printf("|----------------------------------|--------------------------------------------------|--------|------------|--------|\n");
  for (size_t i = 0; i < std::min(top, p.by_shapes.size()); ++i) {
    const auto& r = p.by_shapes[i];
    std::printf("| %-32s | %-48s | %6lld | %10.1f | %5.1f%% |\n", r.name.c_str(), r.shapes.c_str(),
                static_cast<long long>(r.calls), r.self_ms, p.wall_ms > 0 ? 100.0 * r.self_ms / p.wall_ms : 0.0);
  }
}

}  // namespace sdw
