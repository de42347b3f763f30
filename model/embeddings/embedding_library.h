// The textual-inversion embeddings of the `--embeddings-dir` folders, as A1111 keeps them: every
// .safetensors file there is an embedding named after its file (sub-folders too, to a depth of
// 4); a prompt that says the name uses it. Files are read when first seen and re-read when they
// change (checked on each use, so files dropped into a folder work without a restart); files that
// cannot be read stay listed with their error. Thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/catalog/asset_folders.h"
#include "model/embeddings/textual_inversion.h"

namespace sdw {

struct EmbeddingEntry {
  std::string name;  // relative to its folder, without extension ("styles/ink"); prompts say the file name ("ink")
  std::filesystem::path file;
  uint64_t size = 0;
  std::shared_ptr<const TextualInversion> embedding;  // null when it could not be read
  std::string error;                                  // why not
};

// Larger files are not read: an embedding of 75 SDXL vectors is 0.6 MB.
constexpr uint64_t kMaxEmbeddingFileBytes = 64ull << 20;

class EmbeddingLibrary {
 public:
  explicit EmbeddingLibrary(std::vector<std::filesystem::path> folders);

  bool empty() const { return folders_.empty(); }
  // Every file in the folders, sorted by name (re-reading what changed).
  std::vector<EmbeddingEntry> entries();
  // The readable embeddings whose vectors fit text encoders of these widths (`width_2` 0: one
  // encoder), as A1111 does: an SD1.5 embedding is not used on an SD2 or SDXL model.
  std::vector<std::shared_ptr<const TextualInversion>> usable(int64_t width, int64_t width_2);

 private:
  struct Cached {
    int64_t mtime_ns = 0;
    uint64_t size = 0;
    EmbeddingEntry entry;
  };
  AssetFolders folders_;
  std::mutex mutex_;
  std::map<std::string, Cached> cache_;  // by name
};

}  // namespace sdw
