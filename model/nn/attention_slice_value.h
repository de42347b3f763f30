// The check of an attention-slicing setting ("auto", "max", "none", "" or a positive slice size),
// header-only and without libtorch so the CLI option checks (runtime/cli_memory.cpp, also compiled
// into the serve-config fuzzer) need no model library.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace sdw::nn {

// Throws std::invalid_argument naming `value` unless it is "", "none", "auto", "max" or a positive integer.
inline void check_attention_slicing(const std::string& value) {
  if (value.empty() || value == "none" || value == "auto" || value == "max") return;
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || n < 1)
    throw std::invalid_argument("attention slicing must be auto, max, none or a positive slice size, got '" + value + "'");
}

}  // namespace sdw::nn
