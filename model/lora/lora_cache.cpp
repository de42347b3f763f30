// The bounded LoRA file cache (see lora_cache.h).
#include "model/lora/lora_cache.h"

#include <cstdlib>

namespace sdw {

LoraCache::LoraCache(int64_t max_bytes) : max_bytes_(max_bytes) {}

std::shared_ptr<const LoraFile> LoraCache::get(const std::string& path) {
  const FileStamp stamp = file_stamp(path);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->stamp != stamp) continue;
      ++stats_.hits;
      entries_.splice(entries_.begin(), entries_, it);
      return entries_.front().file;
    }
    ++stats_.misses;
  }
  // Read outside the lock (a large file takes a while); two threads missing at once both read.
  auto file = std::make_shared<const LoraFile>(read_lora_file(path));
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {  // an older version of the same path
    if (it->stamp.path == path) {
      stats_.bytes -= it->bytes;
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  entries_.push_front({stamp, file, static_cast<int64_t>(stamp.size)});
  stats_.bytes += static_cast<int64_t>(stamp.size);
  while (stats_.bytes > max_bytes_ && entries_.size() > 1) {
    stats_.bytes -= entries_.back().bytes;
    entries_.pop_back();
    ++stats_.evictions;
  }
  stats_.entries = entries_.size();
  return file;
}

LoraCacheStats LoraCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  LoraCacheStats s = stats_;
  s.entries = entries_.size();
  return s;
}

void LoraCache::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.clear();
  stats_.bytes = 0;
  stats_.entries = 0;
}

LoraCache& default_lora_cache() {
  static LoraCache cache([] {
    const char* env = std::getenv("SDW_LORA_CACHE_MB");
    const long long mb = env && *env ? std::atoll(env) : 1024;
    return static_cast<int64_t>(mb > 0 ? mb : 1024) * 1024 * 1024;
  }());
  return cache;
}

}  // namespace sdw
