// Files users name in requests (LoRAs, embeddings), looked up only inside configured folders:
// a name is relative ("add_detail", "styles/ink.safetensors"), never absolute, never "..", ends
// in (or is given) one of the allowed extensions, and its real path (symlinks followed) must lie
// inside the folder it was found in. Also lists what the folders hold.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace sdw {

class AssetError : public std::runtime_error {
 public:
  enum class Kind { bad_name, forbidden, not_found };
  AssetError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct AssetFile {
  std::string name;             // relative to its folder, without the extension ("styles/ink")
  std::filesystem::path path;   // the real (canonical) path
  uint64_t size = 0;
};

class AssetFolders {
 public:
  // `what` names the kind of file in messages ("LoRA"); `extensions` with the dot (".safetensors").
  AssetFolders(std::vector<std::filesystem::path> folders, std::vector<std::string> extensions, std::string what);

  bool empty() const { return folders_.empty(); }
  // Throws AssetError: bad_name (absolute, "..", NUL, empty, wrong extension), forbidden (the
  // file's real path leaves its folder), not_found (in no folder, or no folders configured).
  AssetFile resolve(const std::string& name) const;
  // Every allowed file under the folders (sub-folders to a depth of 4; entries whose real path
  // leaves the folder are left out), sorted by name; the first folder wins a name clash.
  std::vector<AssetFile> list() const;

 private:
  std::vector<std::filesystem::path> folders_;  // canonical
  std::vector<std::string> extensions_;
  std::string what_;
};

}  // namespace sdw
