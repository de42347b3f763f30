// Dropping the resident pages of mapped safetensors data once copied (see mapped_pages.h).
#include "model/safetensors/mapped_pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>

namespace sdw {
namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::map<uintptr_t, size_t>& registry() {  // mapping start -> size
  static std::map<uintptr_t, size_t> r;
  return r;
}

}  // namespace

void register_mapping(const void* addr, size_t size) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry()[reinterpret_cast<uintptr_t>(addr)] = size;
}

void unregister_mapping(const void* addr) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry().erase(reinterpret_cast<uintptr_t>(addr));
}

size_t release_mapped_pages(const at::Tensor& t) {
  if (!t.defined() || !t.device().is_cpu() || t.is_mkldnn() || t.is_sparse() || t.numel() == 0) return 0;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(t.data_ptr());
  const uintptr_t end = begin + static_cast<uintptr_t>(t.numel()) * t.element_size();
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  // Held while advising, so the mapping cannot be unmapped (and the range reused) meanwhile.
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto it = registry().upper_bound(begin);
  if (it == registry().begin()) return 0;
  --it;
  const uintptr_t map_begin = it->first, map_end = it->first + it->second;
  if (begin < map_begin || end > map_end) return 0;  // not (wholly) in a live mapping
  // Whole pages covering the tensor, within the mapping: a neighbour's page dropped too is read
  // again from the file when that neighbour is copied (the mapping is private and never written).
  const uintptr_t a = std::max(map_begin, begin / page * page);
  const uintptr_t b = std::min(map_end, (end + page - 1) / page * page);
  if (b <= a || ::madvise(reinterpret_cast<void*>(a), b - a, MADV_DONTNEED) != 0) return 0;
  return b - a;
}

}  // namespace sdw
