// Pickle detection by extension and magic bytes.
#include "model/safetensors/pickle_guard.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>

namespace sdw {

std::string pickle_reason(const std::string& path) {
  static const char* pickle_extensions[] = {".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle"};
  std::string p = path;
  std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* ext : pickle_extensions) {
    const size_t n = std::strlen(ext);
    if (p.size() >= n && p.compare(p.size() - n, n, ext) == 0) return std::string("a pickle (") + ext + ") file";
  }
  std::ifstream in(path, std::ios::binary);
  char head[4] = {0, 0, 0, 0};
  in.read(head, 4);
  if (in.gcount() >= 2 && static_cast<unsigned char>(head[0]) == 0x80 && head[1] >= 1 && head[1] <= 5)
    return "a Python pickle, not safetensors";
  if (in.gcount() == 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return "a zip (torch.save) file, not safetensors";
  return "";
}

}  // namespace sdw
