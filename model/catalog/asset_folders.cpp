// Asset folders (see asset_folders.h).
#include "model/catalog/asset_folders.h"

#include <algorithm>
#include <map>
#include <system_error>

namespace sdw {
namespace fs = std::filesystem;
namespace {

bool inside(const fs::path& path, const fs::path& folder) {
  auto p = path.begin();
  for (auto f = folder.begin(); f != folder.end(); ++f, ++p)
    if (p == path.end() || *p != *f) return false;
  return p != path.end();  // strictly below the folder
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

AssetFolders::AssetFolders(std::vector<fs::path> folders, std::vector<std::string> extensions, std::string what)
    : extensions_(std::move(extensions)), what_(std::move(what)) {
  for (const auto& folder : folders) {
    std::error_code ec;
    const fs::path real = fs::canonical(folder, ec);
    if (ec || !fs::is_directory(real, ec))
      throw std::invalid_argument(what_ + " folder '" + folder.string() + "' is not a readable directory");
    folders_.push_back(real);
  }
}

AssetFile AssetFolders::resolve(const std::string& name) const {
  using Kind = AssetError::Kind;
  if (name.empty() || name.size() > 1024 || name.find('\0') != std::string::npos)
    throw AssetError(Kind::bad_name, what_ + " name must be 1-1024 characters without NUL");
  const fs::path given(name);
  if (given.is_absolute() || name.find('\\') != std::string::npos)
    throw AssetError(Kind::bad_name, what_ + " '" + name + "': give a name inside the " + what_ + " folders, not a path");
  for (const auto& part : given)
    if (part == "..") throw AssetError(Kind::bad_name, what_ + " '" + name + "': '..' is not allowed");
  std::vector<fs::path> candidates;
  const std::string ext = lower(given.extension().string());
  static const char* const kPickles[] = {".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle"};
  if (std::find(extensions_.begin(), extensions_.end(), ext) != extensions_.end()) {
    candidates.push_back(given);
  } else if (std::find(std::begin(kPickles), std::end(kPickles), ext) != std::end(kPickles)) {
    std::string list;
    for (const auto& e : extensions_) list += (list.empty() ? "" : ", ") + e;
    throw AssetError(Kind::bad_name, what_ + " '" + name + "': pickle files are never loaded; only " + list + " files are accepted");
  } else {
    for (const auto& e : extensions_) candidates.emplace_back(name + e);  // "add_detail", "epi_v2.1"
  }
  if (folders_.empty()) throw AssetError(Kind::not_found, "no " + what_ + " folders are configured on this worker");
  for (const auto& folder : folders_) {
    for (const auto& candidate : candidates) {
      std::error_code ec;
      const fs::path joined = folder / candidate;
      if (!fs::exists(joined, ec)) continue;
      const fs::path real = fs::canonical(joined, ec);
      if (ec || !inside(real, folder))
        throw AssetError(Kind::forbidden, what_ + " '" + name + "' points outside its folder");
      if (!fs::is_regular_file(real, ec)) continue;
      AssetFile file;
      file.name = (candidate.parent_path() / candidate.stem()).string();
      file.path = real;
      file.size = fs::file_size(real, ec);
      return file;
    }
  }
  throw AssetError(Kind::not_found, what_ + " '" + name + "' is not in the " + what_ + " folders");
}

std::vector<AssetFile> AssetFolders::list() const {
  std::map<std::string, AssetFile> found;
  for (const auto& folder : folders_) {
    std::error_code ec;
    fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (it.depth() >= 4) it.disable_recursion_pending();
      const std::string ext = lower(it->path().extension().string());
      if (std::find(extensions_.begin(), extensions_.end(), ext) == extensions_.end()) continue;
      std::error_code ec2;
      const fs::path real = fs::canonical(it->path(), ec2);
      if (ec2 || !inside(real, folder) || !fs::is_regular_file(real, ec2)) continue;
      const fs::path rel = it->path().lexically_relative(folder);
      const std::string name = (rel.parent_path() / rel.stem()).string();
      if (found.count(name)) continue;
      found[name] = AssetFile{name, real, static_cast<uint64_t>(fs::file_size(real, ec2))};
    }
  }
  std::vector<AssetFile> out;
  for (auto& [name, file] : found) out.push_back(std::move(file));
  return out;
}

}  // namespace sdw
