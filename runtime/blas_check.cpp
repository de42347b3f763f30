// BLAS check (see blas_check.h): reads /proc/self/maps for the mapped BLAS library.
#include "runtime/blas_check.h"

#include <fstream>
#include <iostream>

namespace sdw {

std::string loaded_blas_library() {
  std::ifstream maps("/proc/self/maps");
  std::string line, found;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find("openblas") != std::string::npos || path.find("libblis") != std::string::npos ||
        path.find("libmkl") != std::string::npos)
      return path;
    if (path.find("libblas.so") != std::string::npos) found = path;
  }
  return found;
}

bool warn_if_reference_blas() {
  const std::string lib = loaded_blas_library();
  if (lib.find("/blas/libblas.so") != std::string::npos) {
    std::cerr << "sd-worker: warning: libtorch uses the reference BLAS (" << lib
              << "); install libopenblas0-pthread for ~20x faster CPU inference\n";
    return true;
  }
  return false;
}

}  // namespace sdw
