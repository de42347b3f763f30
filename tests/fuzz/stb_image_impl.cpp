// stb_image's implementation for the fuzz targets (see tests/fuzz/CMakeLists.txt): the header of
// Debian's libstb-dev, compiled with the fuzz build's coverage and sanitizers instead of linking
// the uninstrumented libstb.so. Its allocations are filled with a byte the target chooses
// (stb_fill.h), so that decoding the same bytes under two fills shows any use of uninitialised
// memory (ASan does not see those). Not used by the worker.
#include "stb_fill.h"

#include <cstdlib>
#include <cstring>

namespace {

unsigned char fill_byte = 0xbe;

void* filled_malloc(size_t size) {
  void* p = std::malloc(size);
  if (p) std::memset(p, fill_byte, size);
  return p;
}

}  // namespace

void sdw_fuzz_set_stb_fill(unsigned char byte) { fill_byte = byte; }

#define STBI_MALLOC(size) filled_malloc(size)
#define STBI_REALLOC(p, size) std::realloc(p, size)
#define STBI_FREE(p) std::free(p)
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
