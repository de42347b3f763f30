// Shared helpers for the tests: fixture paths and tensor comparison with stated tolerances.
#pragma once

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "model/safetensors/safetensors.h"

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

// Another program run to its end: exit code (128 + signal when killed), stdout and stderr.
struct ProcessResult {
  int exit_code = -1;
  std::string out, err;
  std::string output() const { return out + err; }
};
using EnvVars = std::vector<std::pair<std::string, std::string>>;

// This process's environment with `set` added or replaced and `unset` removed, as NAME=value.
// Unless `set`, `unset` or this environment name it, SDW_CPU_THREADS=1 is added: ctest -j2 runs
// two tests at once on 2 CPUs, and a worker taking every CPU for its OpenMP threads would
// oversubscribe them (spinning barriers turned 0.4 s jobs into 4 s ones in a timing test).
std::vector<std::string> child_environment(const EnvVars& set, const std::vector<std::string>& unset = {});
// fork + execve of argv[0] (a path) with stdout and stderr on the given descriptors; no shell.
// Returns the child's pid (the caller waits for it).
int spawn_process(const std::vector<std::string>& argv, const EnvVars& env, int out_fd, int err_fd,
                  const std::vector<std::string>& unset = {});
// spawn_process to its end, stdout and stderr captured separately.
ProcessResult run_process(const std::vector<std::string>& argv, const EnvVars& env = {},
                          const std::vector<std::string>& unset = {});

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

// A field of /proc/self/status in bytes ("VmRSS", "VmHWM"); -1 where it cannot be read.
int64_t status_bytes(const std::string& key);
// Sets VmHWM back to the current RSS (Linux >= 4.0); false where the kernel did not.
bool reset_peak_rss();

}  // namespace sdw::test
