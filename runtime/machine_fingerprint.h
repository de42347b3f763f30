// The machine a bench ran on, printed at the top of `sd-worker bench` so that numbers from
// different machines can be told apart: CPU model and core count, the ISA extensions the CPU
// kernels care about (AVX2, AVX-512F, AVX-512 BF16/FP16, AMX), the BLAS libtorch loaded with
// OpenBLAS's core type and build config where it is OpenBLAS, libtorch's version, its intra-op
// threads and the load average when the bench started.
#pragma once

#include <string>
#include <vector>

namespace sdw {

struct MachineFingerprint {
  std::string cpu_model;             // /proc/cpuinfo "model name" ("" when absent)
  int logical_cpus = 0;
  std::vector<std::string> isa;      // of avx2, avx512f, avx512_bf16, avx512_fp16, amx_tile, amx_bf16, amx_int8
  std::string blas_library;          // the mapped BLAS (blas_check.h)
  std::string blas_core, blas_config;  // openblas_get_corename() / openblas_get_config(); "" if not OpenBLAS
  std::string torch_version;
  int torch_threads = 0;
  std::string load_average;          // /proc/loadavg's first three fields
};

MachineFingerprint machine_fingerprint();
// "machine: AMD EPYC ..., 2 logical CPUs; ISA avx2 avx512f ...; BLAS ...; libtorch 1.13.0, 2 threads; load ...".
std::string describe(const MachineFingerprint& m);

}  // namespace sdw
