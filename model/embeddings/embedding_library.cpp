// The embedding folders: listing, reading and re-reading on change.
#include "model/embeddings/embedding_library.h"

#include <chrono>
#include <system_error>

namespace sdw {

namespace fs = std::filesystem;

namespace {

int64_t mtime_ns(const fs::path& path) {
  std::error_code ec;
  const auto t = fs::last_write_time(path, ec);
  if (ec) return 0;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

EmbeddingEntry read_entry(const AssetFile& file) {
  EmbeddingEntry e;
  e.name = file.name;
  e.file = file.path;
  e.size = file.size;
  if (file.size > kMaxEmbeddingFileBytes) {
    e.error = "the file is " + std::to_string(file.size >> 20) + " MiB; embeddings larger than " +
              std::to_string(kMaxEmbeddingFileBytes >> 20) + " MiB are not read (is it a model or a LoRA?)";
    return e;
  }
  try {
    e.embedding = std::make_shared<const TextualInversion>(read_textual_inversion(file.path.string()));
  } catch (const EmbeddingError& err) {
    e.error = err.what();
  }
  return e;
}

}  // namespace

EmbeddingLibrary::EmbeddingLibrary(std::vector<fs::path> folders)
    : folders_(std::move(folders), {".safetensors"}, "embedding") {}

std::vector<EmbeddingEntry> EmbeddingLibrary::entries() {
  std::vector<AssetFile> files = folders_.list();
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, Cached> next;
  std::vector<EmbeddingEntry> out;
  for (const AssetFile& f : files) {
    const int64_t t = mtime_ns(f.path);
    auto it = cache_.find(f.name);
    Cached c;
    if (it != cache_.end() && it->second.mtime_ns == t && it->second.size == f.size && it->second.entry.file == f.path) {
      c = it->second;
    } else {
      c.mtime_ns = t;
      c.size = f.size;
      c.entry = read_entry(f);
    }
    out.push_back(c.entry);
    next.emplace(f.name, std::move(c));
  }
  cache_ = std::move(next);
  return out;
}

std::vector<std::shared_ptr<const TextualInversion>> EmbeddingLibrary::usable(int64_t width, int64_t width_2) {
  std::vector<std::shared_ptr<const TextualInversion>> out;
  if (empty()) return out;
  for (const EmbeddingEntry& e : entries())
    if (e.embedding && e.embedding->mismatch(width, width_2).empty()) out.push_back(e.embedding);
  return out;
}

}  // namespace sdw
