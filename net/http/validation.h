// Typed, bounded reading of request JSON: every accessor names the field in its error
// ("steps must be an integer between 1 and 150, got 500"), so a client sees exactly what to fix.
// Errors are ApiError 400 (MISSING_FIELD, INVALID_FIELD, INVALID_IMAGE). No I/O, no worker.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "model/image/image_io.h"

namespace sdw::net {

// Limits the HTTP layer checks before a job reaches the worker (rbee's defaults).
struct ValidationLimits {
  int min_side = 256;             // width/height: multiples of 8 in [min_side, max_side]
  int max_side = 2048;
  int64_t max_pixels = 2048ll * 2048ll;
  int max_steps = 150;
  double max_guidance = 30.0;
  int max_images = 8;
  int max_clip_skip = 12;
  size_t max_prompt_bytes = 10000;
  int64_t max_input_pixels = kMaxInputPixels;  // decoded input images (width * height)
  double max_lora_strength = 10.0;
};

// "string", "number", "integer", "boolean", "array", "object", "null".
std::string json_type(const nlohmann::json& value);

// Reads fields of one JSON object. Absent and null fields are "not given".
class FieldReader {
 public:
  explicit FieldReader(const nlohmann::json& object) : object_(object) {}

  bool has(const char* field) const;
  const nlohmann::json* get(const char* field) const;  // nullptr when absent or null

  std::string required_string(const char* field) const;
  std::optional<std::string> optional_string(const char* field) const;
  // Integers only (20.0 and "20" are type errors); the range is inclusive.
  int integer(const char* field, int fallback, int min, int max) const;
  // Any JSON number, finite, inclusive range.
  double number(const char* field, double fallback, double min, double max) const;
  bool boolean(const char* field, bool fallback) const;
  // u64: a non-negative JSON integer or a string of decimal digits (JavaScript cannot hold
  // every u64 exactly); absent/null -> nullopt.
  std::optional<uint64_t> seed(const char* field) const;

 private:
  const nlohmann::json& object_;
};

// Prompt rules: a string, not empty or only whitespace (when `required`), at most max bytes.
void check_prompt(const std::string& field, const std::string& text, bool required, const ValidationLimits& limits);
// A side length: multiple of 8 within [min_side, max_side].
void check_side(const std::string& field, int value, const ValidationLimits& limits);
// The output size of img2img/inpaint without width/height is the image's, rounded down to
// multiples of 8: 400 naming `field` unless that fits the side limits.
void check_derived_size(const std::string& field, const Image& image, const ValidationLimits& limits);
// Decodes a base64 image (plain or data: URL) within the pixel limit; ApiError 400 INVALID_IMAGE
// naming the field and the decoder's reason otherwise.
Image decode_field_image(const std::string& field, const std::string& base64, const ValidationLimits& limits);

}  // namespace sdw::net
