// One file from the Hub into the cache's blobs/: streamed into blobs/{etag}.incomplete, resumed
// with a Range request when that exists (a 200 instead of 206 starts over), retried a few times
// after transport failures, verified (SHA-256 against the etag for LFS files, size otherwise),
// then renamed to blobs/{etag}; under huggingface_hub's lock file for that blob. A checksum
// mismatch or a write error (disk full) leaves neither the blob nor the .incomplete file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "net/hub/hub_cache.h"
#include "net/hub/hub_http.h"

namespace sdw::net {

// (repo path, bytes so far, total bytes or -1). Called often: throttle in the callee.
using HubProgress = std::function<void(const std::string& file, int64_t done, int64_t total)>;

struct BlobSpec {
  std::string path;   // repo path (messages, progress): "unet/diffusion_pytorch_model.safetensors"
  std::string url;    // the resolve URL; each attempt follows its redirect afresh
  std::string etag;   // blob name: the SHA-256 (LFS) or git blob SHA-1
  int64_t size = -1;  // expected bytes, -1 unknown
  bool lfs = false;   // etag is the SHA-256 of the content: verified
};

// Leaves the content at cache.blob_path(blob.etag) (returns at once when it is there). Throws
// HubError: network (after config.max_attempts), checksum, io, or the Hub's 401/403/404 answer.
void download_blob(const HubHttp& http, const HubRepoCache& cache, const BlobSpec& blob,
                   const HubRequestContext& context, const HubProgress& progress = {});

}  // namespace sdw::net
