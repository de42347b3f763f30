// The on-disk cache of one Hub repo, laid out exactly as Python's huggingface_hub lays it out, so
// either side reuses what the other downloaded:
//   {cache}/models--{org}--{name}/blobs/{etag}            content (sha256 for LFS files, git sha1 else)
//   {cache}/models--{org}--{name}/blobs/{etag}.incomplete  a download in progress (resumable)
//   {cache}/models--{org}--{name}/snapshots/{commit}/{path} relative symlink to ../../blobs/{etag}
//   {cache}/models--{org}--{name}/refs/{revision}          the commit sha (no newline)
//   {cache}/.locks/models--{org}--{name}/{etag}.lock        flock(2) while a blob is written
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sdw::net {

// "org/name" -> "models--org--name".
std::string repo_folder_name(const std::string& repo_id);

class HubRepoCache {
 public:
  HubRepoCache(std::string cache_dir, const std::string& repo_id);

  const std::string& root() const { return root_; }
  std::string blob_path(const std::string& etag) const { return root_ + "/blobs/" + etag; }
  std::string incomplete_path(const std::string& etag) const { return blob_path(etag) + ".incomplete"; }
  std::string snapshot_dir(const std::string& commit) const { return root_ + "/snapshots/" + commit; }
  std::string ref_path(const std::string& revision) const { return root_ + "/refs/" + revision; }
  std::string lock_path(const std::string& etag) const { return locks_ + "/" + etag + ".lock"; }

  // The commit a revision names in the cache: a commit hash with a snapshot folder is itself,
  // otherwise refs/{revision}; nullopt when neither is there.
  std::optional<std::string> cached_commit(const std::string& revision) const;
  // Writes refs/{revision} atomically (temp file + rename).
  void write_ref(const std::string& revision, const std::string& commit) const;

  // The snapshot holds `path` and its content is there (a dangling symlink does not count).
  bool has_file(const std::string& commit, const std::string& path) const;
  // Every file of the snapshot (relative paths, sorted), following symlinks; dangling ones skipped.
  std::vector<std::string> snapshot_files(const std::string& commit) const;
  // snapshots/{commit}/{path} -> relative symlink to blobs/{etag}, replacing whatever is there.
  void link(const std::string& commit, const std::string& path, const std::string& etag) const;

 private:
  std::string root_;
  std::string locks_;
};

// An exclusive flock(2) on a lock file (created with its folders), held for the object's life;
// the same lock files huggingface_hub's FileLock uses, so the two never write one blob at once.
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace sdw::net
