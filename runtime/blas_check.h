// Start-up check of the BLAS that libtorch loaded: Debian's libtorch calls the system
// libblas.so.3, which is the single-threaded reference BLAS unless OpenBLAS (or BLIS/MKL) is
// installed; linear layers then run ~20x slower.
#pragma once

#include <string>

namespace sdw {

// The path of the loaded BLAS library ("" if none is mapped yet).
std::string loaded_blas_library();
// Prints a warning on stderr when the reference BLAS is in use. Returns true if it warned.
bool warn_if_reference_blas();

}  // namespace sdw
