// Downloads a diffusers pipeline from the Hugging Face Hub into huggingface_hub's cache and
// returns its snapshot folder (which model/loading's diffusers-folder loader reads):
//   GET {endpoint}/api/models/{repo}/revision/{rev}   -> commit ("sha") and file list ("siblings")
//   HEAD {endpoint}/{repo}/resolve/{commit}/{path}   -> X-Repo-Commit, ETag / X-Linked-Etag, size
//   GET  the same URL (LFS files: 302 to a CDN)       -> the content (hub_download.h)
// Files already in the snapshot cost no request; a complete snapshot of a commit hash costs none.
// Offline (HF_HUB_OFFLINE) or with the Hub unreachable, a complete cached snapshot of the revision
// (refs/{revision} or the commit's folder) is used; otherwise the error says it is not cached.
// Knows nothing of rbee's version names (the caller maps those to repos).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "net/hub/hub_config.h"
#include "net/hub/hub_download.h"
#include "net/hub/hub_error.h"
#include "net/hub/hub_reference.h"

namespace sdw::net {

struct HubDownloadOptions {
  std::string variant;                           // "fp16": prefer *.fp16.safetensors weights
  HubProgress progress;                          // per file, while bytes arrive
  std::function<void(const std::string&)> note;  // one line per step worth telling a person
  int64_t max_file_bytes = 0;                    // > 0: a larger file is refused before its download
};

class HubClient {
 public:
  explicit HubClient(HubConfig config);

  // The local snapshot folder holding every file the pipeline needs. Throws HubError.
  std::string download_pipeline(const HubReference& reference, const HubDownloadOptions& options = {}) const;

  // The local path of one file of a repository (download_file: a LoRA, an embedding), downloaded
  // into the snapshot or found there; offline or with the Hub unreachable, the cached file of the
  // revision. Throws HubError (entry_not_found: the repository has no such file; unsupported:
  // larger than options.max_file_bytes).
  std::string download_file(const HubFileReference& reference, const HubDownloadOptions& options = {}) const;

  const HubConfig& config() const { return config_; }

 private:
  struct Listing {
    std::string commit;
    std::vector<std::string> files;
  };
  Listing list_revision(const HubReference& reference) const;
  // list_revision, or, when the Hub cannot be reached, `cached(reason)`'s answer from the cache
  // (in *from_cache; its not_cached error then becomes a network error). nullopt: the cache answered.
  std::optional<Listing> list_or_cached(const HubReference& reference,
                                        const std::function<std::string(const std::string&)>& cached,
                                        std::string* from_cache) const;
  // The cached snapshot when it is complete, else throws not_cached (reason: why no network).
  std::string from_cache(const HubReference& reference, const HubDownloadOptions& options,
                         const std::string& reason) const;
  // Makes snapshots/{commit}/{path} present (HEAD, then the blob unless already cached);
  // returns the bytes downloaded (0 when the cache had it).
  int64_t fetch_file(const HubReference& reference, const std::string& commit, const std::string& path,
                     const HubDownloadOptions& options) const;

  HubConfig config_;
  HubHttp http_;
};

}  // namespace sdw::net
