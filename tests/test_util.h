// Shared helpers for the tests: fixture paths and tensor comparison with stated tolerances.
#pragma once

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>
#include <string>

#include "model/safetensors.h"

namespace sdw::test {

// Absolute path of a file under tests/fixtures.
std::string fixture(const std::string& relative);

// Result of comparing two float tensors: max |a-b| and max |a-b| / (|b| + 1e-3) (the
// relative error with a floor, so that near-zero reference values do not dominate).
struct Diff {
  double max_abs = 0;
  double max_rel = 0;
  double ref_max_abs = 0;
};
Diff compare(const at::Tensor& actual, const at::Tensor& expected);
std::string describe(const std::string& what, const Diff& d);

// Reads a fixture JSON file written by Python's json (which may contain the bare tokens
// Infinity, -Infinity and NaN; they are read as the strings "Infinity", "-Infinity", "NaN").
nlohmann::json read_json(const std::string& path);

// A temporary directory removed at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace sdw::test
