// Parsed LoRA files kept for reuse, bounded by bytes: keyed by path + modification time + size
// (a file rewritten in place is read again), least recently used evicted first. Thread-safe: the
// request check (loader thread) and the fusing (device thread) share it.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "model/lora/lora_file.h"

namespace sdw {

struct LoraCacheStats {
  int64_t bytes = 0;  // file bytes of the entries held
  size_t entries = 0;
  int64_t hits = 0, misses = 0, evictions = 0;
};

class LoraCache {
 public:
  explicit LoraCache(int64_t max_bytes);
  // The parsed file (read on a miss). Throws LoraError from read_lora_file or file_stamp.
  std::shared_ptr<const LoraFile> get(const std::string& path);
  LoraCacheStats stats() const;
  int64_t max_bytes() const { return max_bytes_; }
  void clear();

 private:
  struct Entry {
    FileStamp stamp;
    std::shared_ptr<const LoraFile> file;
    int64_t bytes = 0;
  };
  const int64_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  LoraCacheStats stats_;
};

// The process's cache: 1 GiB, or $SDW_LORA_CACHE_MB MiB. A file larger than the bound is still
// read and used; it is just not kept after a newer one arrives.
LoraCache& default_lora_cache();

}  // namespace sdw
