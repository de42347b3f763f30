// Resumable, verified blob downloads (see hub_download.h).
#include "net/hub/hub_download.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "net/hub/hub_error.h"
#include "net/hub/sha256.h"

namespace fs = std::filesystem;

namespace sdw::net {
namespace {

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

// "bytes START-END/TOTAL" -> START (-1 when absent or malformed), TOTAL (-1 when "*").
void parse_content_range(const std::string& v, int64_t& start, int64_t& total) {
  start = total = -1;
  if (v.rfind("bytes ", 0) != 0) return;
  try {
    start = std::stoll(v.substr(6));
    const auto slash = v.find('/');
    if (slash != std::string::npos && v.compare(slash + 1, 1, "*") != 0) total = std::stoll(v.substr(slash + 1));
  } catch (const std::exception&) {
    start = total = -1;
  }
}

int64_t parse_length(const std::string& v) {
  if (v.empty()) return -1;
  try {
    return std::stoll(v);
  } catch (const std::exception&) {
    return -1;
  }
}

// The .incomplete file, open for appending; removed on request.
class PartFile {
 public:
  explicit PartFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw HubError(HubErrc::io, "cannot write '" + path_ + "': " + std::strerror(errno));
    struct stat st {};
    size_ = ::fstat(fd_, &st) == 0 ? st.st_size : 0;
  }
  ~PartFile() { close(); }
  int64_t size() const { return size_; }
  // False (errno kept in error()) when the bytes could not all be written.
  bool write(const char* data, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, data, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        errno_ = errno;
        return false;
      }
      data += w;
      n -= static_cast<size_t>(w);
      size_ += w;
    }
    return true;
  }
  void truncate() {
    if (::ftruncate(fd_, 0) != 0)
      throw HubError(HubErrc::io, "cannot truncate '" + path_ + "': " + std::strerror(errno));
    size_ = 0;
  }
  int error() const { return errno_; }
  // Closes (reporting a failed close, e.g. on NFS quota) and returns errno, 0 when fine.
  int close() {
    if (fd_ < 0) return 0;
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }
  void remove() {
    close();
    std::error_code ec;
    fs::remove(path_, ec);
  }

 private:
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
  int errno_ = 0;
};

[[noreturn]] void fail_write(PartFile& part, const std::string& path, int err) {
  part.remove();
  throw HubError(HubErrc::io, "cannot write '" + path + "': " + std::strerror(err) +
                                  (err == ENOSPC || err == EDQUOT || err == EFBIG
                                       ? " (free some space, or point HF_HUB_CACHE elsewhere)"
                                       : ""));
}

// Transfers until the part file holds the whole content (or throws). Returns true when any bytes
// came from an earlier transfer (a resume), false when all were fetched in one go.
bool transfer(const HubHttp& http, const BlobSpec& blob, const HubRequestContext& context, PartFile& part, Sha256& hash,
              int64_t& expected, const std::string& part_path, const HubProgress& progress) {
  const HubConfig& config = http.config();
  bool resumed = part.size() > 0;
  auto delay = config.retry_delay;
  std::string last_error;
  for (int attempt = 1;; ++attempt) {
    if (expected >= 0 && part.size() == expected) return resumed;
    if (expected >= 0 && part.size() > expected) {
      part.truncate();
      hash.reset();
    }
    if (progress) progress(blob.path, part.size(), expected);
    const int64_t offset = part.size();
    bool mismatch = false;
    auto on_start = [&](const HubResponse& r) {
      int64_t start = 0, total = -1;
      if (r.status == 206) {
        parse_content_range(r.header("content-range"), start, total);
        if (start != offset) {
          mismatch = true;  // not the bytes asked for: start over
          return false;
        }
      } else {  // 200: the whole content, whatever was asked
        if (offset > 0) {
          part.truncate();
          hash.reset();
        }
        total = parse_length(r.header("content-length"));
      }
      if (expected < 0) expected = total;
      return true;
    };
    auto sink = [&](const char* data, size_t n) {
      if (!part.write(data, n)) return false;
      hash.update(data, n);
      if (progress) progress(blob.path, part.size(), expected);
      return true;
    };
    const HubResponse r = http.fetch(blob.url, offset, on_start, sink);
    if (part.error() != 0) fail_write(part, part_path, part.error());
    if (offset > 0 && part.size() > offset) resumed = true;
    bool retry = false;
    if (mismatch) {
      part.truncate();
      hash.reset();
      last_error = "the server answered a Range request with other bytes";
      retry = true;
    } else if (r.status == 200 || r.status == 206) {
      if (r.error.empty() && (expected < 0 || part.size() == expected)) return resumed;
      last_error = r.error.empty()
                       ? "the connection closed after " + std::to_string(part.size()) + " of " +
                             std::to_string(expected) + " bytes"
                       : "transfer failed after " + std::to_string(part.size()) + " bytes (" + r.error + ")";
      retry = true;
    } else if (r.status == 416 && offset > 0) {
      part.truncate();  // the partial file does not fit the content: start over
      hash.reset();
      last_error = "HTTP 416 for a resumed range";
      retry = true;
    } else if (r.status == 0) {
      last_error = r.error;
      retry = true;
    } else if (r.status == 429 || r.status >= 500) {
      last_error = "HTTP " + std::to_string(r.status) + " from " + r.url;
      retry = true;
    } else if (split_url(r.url).origin != split_url(context.endpoint).origin) {
      // The CDN said no (e.g. its signed URL expired): the next attempt resolves a fresh one.
      last_error = "HTTP " + std::to_string(r.status) + " from the download server " + split_url(r.url).origin;
      retry = true;
    } else {
      throw hub_status_error(r, context);
    }
    if (retry && attempt >= config.max_attempts)
      throw HubError(HubErrc::network, "downloading '" + blob.path + "' of '" + context.repo_id + "' failed after " +
                                           std::to_string(attempt) + " attempts: " + last_error +
                                           " (the partial file is kept; running again resumes it)");
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(10000));
  }
}

}  // namespace

void download_blob(const HubHttp& http, const HubRepoCache& cache, const BlobSpec& blob,
                   const HubRequestContext& context, const HubProgress& progress) {
  const std::string final_path = cache.blob_path(blob.etag);
  const std::string part_path = cache.incomplete_path(blob.etag);
  FileLock lock(cache.lock_path(blob.etag));
  std::error_code ec;
  if (fs::is_regular_file(final_path, ec)) return;  // another process finished it meanwhile
  fs::create_directories(fs::path(final_path).parent_path(), ec);
  if (ec)
    throw HubError(HubErrc::io, "cannot create '" + fs::path(final_path).parent_path().string() + "': " + ec.message());
  const bool verify_sha = blob.lfs && is_sha256_hex(blob.etag);
  for (int pass = 0;; ++pass) {
    PartFile part(part_path);
    Sha256 hash;
    if (part.size() > 0) {
      // Resuming: the bytes already there count towards the checksum.
      if (blob.size >= 0 && part.size() > blob.size)
        part.truncate();
      else if (verify_sha) {
        try {
          hash_file_prefix(hash, part_path, part.size());
        } catch (const std::runtime_error& e) {
          throw HubError(HubErrc::io, e.what());
        }
      }
    }
    int64_t expected = blob.size;
    const bool resumed = transfer(http, blob, context, part, hash, expected, part_path, progress);
    if (const int err = part.close()) fail_write(part, part_path, err);
    std::string problem;
    if (expected >= 0 && part.size() != expected) {
      problem = "'" + blob.path + "' has " + std::to_string(part.size()) + " bytes but the Hub announced " +
                std::to_string(expected);
    } else if (verify_sha) {
      const std::string digest = hash.hex_digest();
      if (digest != blob.etag)
        problem = "the SHA-256 of '" + blob.path + "' is " + digest + " but the Hub says " + blob.etag;
    }
    if (problem.empty()) break;
    part.remove();
    // Bytes kept from an earlier transfer may be the bad ones: one fresh download more.
    if (resumed && pass == 0) continue;
    throw HubError(HubErrc::checksum, problem + ": the download of '" + context.repo_id +
                                          "' is corrupt and was discarded (nothing was cached); try again");
  }
  fs::rename(part_path, final_path, ec);
  if (ec) {
    fs::remove(part_path);
    throw HubError(HubErrc::io, "cannot rename '" + part_path + "' to '" + final_path + "': " + ec.message());
  }
}

}  // namespace sdw::net
