// Files of a folder served over HTTP (see static_files.h).
#include "net/http/static_files.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace fs = std::filesystem;

namespace sdw::net {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Whether `path` (canonical) is `root` (canonical) or below it, component by component (so that
// "/srv/ui-old" is not taken for a child of "/srv/ui").
bool is_inside(const fs::path& root, const fs::path& path) {
  auto r = root.begin(), p = path.begin();
  for (; r != root.end(); ++r, ++p)
    if (p == path.end() || *p != *r) return false;
  return true;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string strip_weak(const std::string& tag) { return tag.rfind("W/", 0) == 0 ? tag.substr(2) : tag; }

}  // namespace

std::optional<std::string> safe_relative_path(const std::string& rest) {
  if (!rest.empty() && rest.front() == '/') return std::nullopt;
  for (unsigned char c : rest)
    if (c < 0x20 || c == 0x7f || c == '\\') return std::nullopt;
  std::string out;
  size_t start = 0;
  while (start < rest.size()) {
    const size_t slash = rest.find('/', start);
    const std::string segment = rest.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (segment.empty() || segment.front() == '.') return std::nullopt;  // "a//b", ".", "..", dot-files
    out += (out.empty() ? "" : "/") + segment;
    if (slash == std::string::npos) return out;
    start = slash + 1;
  }
  return out.empty() ? std::string("index.html") : out + "/index.html";  // "" or a trailing '/'
}

std::string content_type_for(const std::string& name) {
  const size_t dot = name.find_last_of('.');
  const size_t slash = name.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "application/octet-stream";
  const std::string ext = lower(name.substr(dot + 1));
  if (ext == "html" || ext == "htm") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map") return "application/json; charset=utf-8";
  if (ext == "webmanifest") return "application/manifest+json; charset=utf-8";
  if (ext == "txt") return "text/plain; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "gif") return "image/gif";
  if (ext == "webp") return "image/webp";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "woff") return "font/woff";
  if (ext == "wasm") return "application/wasm";
  return "application/octet-stream";
}

std::string cache_control_for(const std::string& relative) {
  if (relative.rfind("assets/", 0) == 0) return "public, max-age=31536000, immutable";
  return "no-cache";
}

std::optional<StaticFile> read_static_file(const std::string& root, const std::string& relative) {
  std::error_code ec;
  const fs::path real_root = fs::canonical(root, ec);
  if (ec) return std::nullopt;
  const fs::path real = fs::canonical(real_root / relative, ec);
  if (ec || !is_inside(real_root, real)) return std::nullopt;
  const auto status = fs::status(real, ec);
  if (ec || !fs::is_regular_file(status)) return std::nullopt;
  const uintmax_t size = fs::file_size(real, ec);
  if (ec || size > kMaxStaticFileBytes) return std::nullopt;
  const auto mtime = fs::last_write_time(real, ec);
  if (ec) return std::nullopt;

  std::ifstream in(real, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  StaticFile file;
  file.body = bytes.str();
  if (file.body.size() != size) return std::nullopt;  // changed while read: let the client retry
  file.content_type = content_type_for(relative);
  file.cache_control = cache_control_for(relative);
  char tag[64];
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count();
  std::snprintf(tag, sizeof tag, "W/\"%jx-%llx\"", size, static_cast<unsigned long long>(ns));
  file.etag = tag;
  return file;
}

bool etag_matches(const std::string& if_none_match, const std::string& etag) {
  const std::string wanted = strip_weak(etag);
  size_t start = 0;
  while (start <= if_none_match.size()) {
    const size_t comma = if_none_match.find(',', start);
    const std::string item = trim(if_none_match.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (item == "*" || (!item.empty() && strip_weak(item) == wanted)) return true;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

}  // namespace sdw::net
