// huggingface_hub's cache layout (see hub_cache.h).
#include "net/hub/hub_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "net/hub/hub_error.h"
#include "net/hub/hub_reference.h"

namespace fs = std::filesystem;

namespace sdw::net {
namespace {

[[noreturn]] void fail_io(const std::string& what, const std::string& path, int err) {
  throw HubError(HubErrc::io, what + " '" + path + "': " + std::strerror(err));
}

void make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw HubError(HubErrc::io, "cannot create the folder '" + dir.string() + "': " + ec.message());
}

}  // namespace

std::string repo_folder_name(const std::string& repo_id) {
  std::string out = "models";
  size_t start = 0;
  while (true) {
    const auto slash = repo_id.find('/', start);
    out += "--" + repo_id.substr(start, slash - start);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

HubRepoCache::HubRepoCache(std::string cache_dir, const std::string& repo_id) {
  while (cache_dir.size() > 1 && cache_dir.back() == '/') cache_dir.pop_back();
  root_ = cache_dir + "/" + repo_folder_name(repo_id);
  locks_ = cache_dir + "/.locks/" + repo_folder_name(repo_id);
}

std::optional<std::string> HubRepoCache::cached_commit(const std::string& revision) const {
  std::error_code ec;
  if (is_commit_hash(revision) && fs::is_directory(snapshot_dir(revision), ec)) return revision;
  std::ifstream in(ref_path(revision), std::ios::binary);
  if (!in) return std::nullopt;
  std::string commit((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
  if (!is_commit_hash(commit)) return std::nullopt;
  return commit;
}

void HubRepoCache::write_ref(const std::string& revision, const std::string& commit) const {
  const fs::path ref = ref_path(revision);
  make_dirs(ref.parent_path());
  const std::string tmp = ref.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << commit;
    out.close();
    if (!out) {
      const int err = errno;
      fs::remove(tmp);
      fail_io("cannot write", tmp, err);
    }
  }
  std::error_code ec;
  fs::rename(tmp, ref, ec);
  if (ec) {
    fs::remove(tmp);
    throw HubError(HubErrc::io, "cannot write '" + ref.string() + "': " + ec.message());
  }
}

bool HubRepoCache::has_file(const std::string& commit, const std::string& path) const {
  std::error_code ec;
  return fs::is_regular_file(snapshot_dir(commit) + "/" + path, ec);
}

std::vector<std::string> HubRepoCache::snapshot_files(const std::string& commit) const {
  std::vector<std::string> out;
  const fs::path dir = snapshot_dir(commit);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code ec2;
    if (fs::is_regular_file(it->path(), ec2)) out.push_back(it->path().lexically_relative(dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void HubRepoCache::link(const std::string& commit, const std::string& path, const std::string& etag) const {
  const fs::path pointer = fs::path(snapshot_dir(commit)) / path;
  make_dirs(pointer.parent_path());
  // os.path.relpath(blob, dirname(pointer)): one "../" per folder below the repo root.
  const fs::path target = fs::path(blob_path(etag)).lexically_relative(pointer.parent_path());
  std::error_code ec;
  fs::remove(pointer, ec);
  fs::create_symlink(target, pointer, ec);
  if (ec) throw HubError(HubErrc::io, "cannot create the link '" + pointer.string() + "': " + ec.message());
}

FileLock::FileLock(const std::string& path) {
  make_dirs(fs::path(path).parent_path());
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_io("cannot open the lock file", path, errno);
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    fail_io("cannot lock", path, err);
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

}  // namespace sdw::net
