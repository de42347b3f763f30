// Reading JSON written by Python's json module (diffusers/transformers configs): it may contain the
// bare tokens Infinity, -Infinity and NaN (e.g. DPM-Solver's `lambda_min_clipped: -Infinity`),
// which strict JSON parsers reject. They are read as the strings "Infinity", "-Infinity", "NaN".
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace sdw {

class DiffusersJsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

nlohmann::json parse_diffusers_json(const std::string& text);
// Reads and parses a file; errors name the path.
nlohmann::json read_diffusers_json_file(const std::string& path);

}  // namespace sdw
