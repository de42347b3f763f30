// Machine fingerprint for the bench (see machine_fingerprint.h).
#include "runtime/machine_fingerprint.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/version.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "runtime/blas_check.h"

namespace sdw {
namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// OpenBLAS's own report, looked up in the loaded libraries (libtorch reaches it through
// libblas.so.3; nothing is linked for it).
std::string openblas_string(const char* symbol) {
  using Fn = char* (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, symbol));
  const char* s = fn ? fn() : nullptr;
  return s ? trim(s) : "";
}

}  // namespace

MachineFingerprint machine_fingerprint() {
  MachineFingerprint m;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(cpuinfo, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (key == "model name" && m.cpu_model.empty()) m.cpu_model = value;
    if (key == "flags" && flags.empty()) {
      std::istringstream words(value);
      for (std::string w; words >> w;) flags.insert(w);
    }
  }
  for (const char* f : {"avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"})
    if (flags.count(f)) m.isa.emplace_back(f);
  m.logical_cpus = static_cast<int>(std::thread::hardware_concurrency());
  m.blas_library = loaded_blas_library();
  m.blas_core = openblas_string("openblas_get_corename");
  m.blas_config = openblas_string("openblas_get_config");
  m.torch_version = TORCH_VERSION;
  m.torch_threads = at::get_num_threads();
  std::ifstream loadavg("/proc/loadavg");
  std::string a, b, c;
  if (loadavg >> a >> b >> c) m.load_average = a + " " + b + " " + c;
  return m;
}

std::string describe(const MachineFingerprint& m) {
  std::ostringstream o;
  o << "machine: " << (m.cpu_model.empty() ? "unknown CPU" : m.cpu_model) << ", " << m.logical_cpus << " logical CPUs; ISA";
  if (m.isa.empty()) o << " (none of avx2/avx512/amx)";
  for (const auto& f : m.isa) o << " " << f;
  o << "\nBLAS: " << (m.blas_library.empty() ? "none mapped" : m.blas_library);
  if (!m.blas_core.empty()) o << " (OpenBLAS core " << m.blas_core << "; " << m.blas_config << ")";
  o << "\nlibtorch " << m.torch_version << ", " << m.torch_threads << " intra-op threads; load average " << m.load_average;
  return o.str();
}

}  // namespace sdw
