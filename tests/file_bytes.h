// Test support: a whole file's bytes as a string (PNG byte-for-byte comparisons in the e2e tests).
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace sdw::test {

inline std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace sdw::test
