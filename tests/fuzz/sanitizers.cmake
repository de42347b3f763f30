# Compiler flags of a -DSDW_FUZZ=ON build (included by the top-level CMakeLists.txt before any
# library is defined, so every library a fuzz target links is instrumented the same way):
# libFuzzer's coverage (fuzzer-no-link: the fuzzer's main is linked into the targets only, see
# tests/fuzz/CMakeLists.txt), AddressSanitizer and UndefinedBehaviorSanitizer, undefined behaviour
# fatal so that libFuzzer reports it as a crash. -O1 -g: the usual fuzzing trade-off between speed
# and readable stack traces; scripts/fuzz.sh configures a Debug build so assertions (nlohmann's
# JSON_ASSERT included) stay on.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "SDW_FUZZ needs clang (libFuzzer): configure with CC=clang-14 CXX=clang++-14 "
                      "in a build directory of its own (scripts/fuzz.sh)")
endif()
set(SDW_SANITIZERS address,undefined)
add_compile_options(-fsanitize=fuzzer-no-link,${SDW_SANITIZERS} -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer -O1 -g)
add_link_options(-fsanitize=${SDW_SANITIZERS})
# clang writes the time into a precompiled header unless told not to, which makes every ccache
# lookup of a file that uses it (the libtorch ones) a miss.
add_compile_options("SHELL:-Xclang -fno-pch-timestamp")
