// The one assertion of the fuzz targets: a broken invariant prints what broke and aborts, which
// libFuzzer reports as a crash with the input that caused it (kept as crash-<sha1>).
#pragma once

#include <cstdio>
#include <cstdlib>

#define SDW_FUZZ_CHECK(condition)                                                           \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
