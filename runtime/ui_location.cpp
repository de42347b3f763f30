// Where the built web UI is (see ui_location.h).
#include "runtime/ui_location.h"

#include <filesystem>
#include <system_error>
#include <vector>

namespace fs = std::filesystem;

namespace sdw {
namespace {

bool has_index(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "index.html", ec);
}

// The running binary's folder (/proc/self/exe: symlinks such as sd-worker-cpu resolved).
fs::path binary_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

}  // namespace

UiLocation find_ui_dir(const std::string& configured) {
  std::vector<fs::path> candidates;
  if (!configured.empty()) {
    candidates.emplace_back(configured);
  } else {
    const fs::path bin = binary_dir();
    if (!bin.empty()) candidates.push_back((bin / ".." / "share" / "sd-worker" / "ui").lexically_normal());
#ifdef SDW_SOURCE_UI_DIR
    candidates.emplace_back(SDW_SOURCE_UI_DIR);
#endif
  }
  UiLocation out;
  for (const auto& c : candidates) {
    out.searched += (out.searched.empty() ? "" : ", ") + c.string();
    if (!out.built && has_index(c)) {
      out.dir = c.string();
      out.built = true;
    }
  }
  if (!out.built && !candidates.empty()) out.dir = candidates.back().string();
  return out;
}

}  // namespace sdw
