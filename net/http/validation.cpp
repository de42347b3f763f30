// Field readers and value rules for request JSON (see validation.h).
#include "net/http/validation.h"

#include <cctype>
#include <cmath>
#include <limits>
#include <sstream>

#include "net/http/errors.h"

namespace sdw::net {
namespace {

std::string short_value(const nlohmann::json& v) {
  std::string s = dump_json(v);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

std::string format_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

ApiError type_error(const std::string& field, const char* expected, const nlohmann::json& got) {
  return invalid_field(field, field + " must be " + expected + ", got " + json_type(got) + " " + short_value(got));
}

}  // namespace

std::string json_type(const nlohmann::json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number()) return "number";
  if (value.is_boolean()) return "boolean";
  return value.type_name();
}

bool FieldReader::has(const char* field) const { return get(field) != nullptr; }

const nlohmann::json* FieldReader::get(const char* field) const {
  auto it = object_.find(field);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string FieldReader::required_string(const char* field) const {
  const auto* v = get(field);
  if (!v) throw missing_field(field);
  if (!v->is_string()) throw type_error(field, "a string", *v);
  return v->get<std::string>();
}

std::optional<std::string> FieldReader::optional_string(const char* field) const {
  const auto* v = get(field);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw type_error(field, "a string", *v);
  return v->get<std::string>();
}

int FieldReader::integer(const char* field, int fallback, int min, int max) const {
  const auto* v = get(field);
  if (!v) return fallback;
  const std::string range = " between " + std::to_string(min) + " and " + std::to_string(max);
  if (!v->is_number_integer()) throw type_error(field, ("an integer" + range).c_str(), *v);
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();  // JSON text "0", "20": parsed as unsigned
    if (u > static_cast<uint64_t>(max) || (min > 0 && u < static_cast<uint64_t>(min)))
      throw invalid_field(field, std::string(field) + " must be" + range + ", got " + std::to_string(u));
    return static_cast<int>(u);
  }
  const int64_t i = v->get<int64_t>();
  if (i < min || i > max)
    throw invalid_field(field, std::string(field) + " must be" + range + ", got " + std::to_string(i));
  return static_cast<int>(i);
}

double FieldReader::number(const char* field, double fallback, double min, double max) const {
  const auto* v = get(field);
  if (!v) return fallback;
  const std::string range = " between " + format_number(min) + " and " + format_number(max);
  if (!v->is_number()) throw type_error(field, ("a number" + range).c_str(), *v);
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < min || d > max)
    throw invalid_field(field, std::string(field) + " must be" + range + ", got " + short_value(*v));
  return d;
}

bool FieldReader::boolean(const char* field, bool fallback) const {
  const auto* v = get(field);
  if (!v) return fallback;
  if (!v->is_boolean()) throw type_error(field, "true or false", *v);
  return v->get<bool>();
}

std::optional<uint64_t> FieldReader::seed(const char* field) const {
  const auto* v = get(field);
  if (!v) return std::nullopt;
  const std::string expected = "an unsigned 64-bit integer (0 to 18446744073709551615)";
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer())
    throw invalid_field(field, std::string(field) + " must be " + expected + ", got " + short_value(*v));
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    bool digits = !s.empty() && s.size() <= 20;
    for (char c : s) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (digits) {
      // 20 digits may still overflow: compare as text against the maximum.
      const std::string max = std::to_string(std::numeric_limits<uint64_t>::max());
      if (s.size() < max.size() || s <= max) return std::stoull(s);
    }
    throw invalid_field(field, std::string(field) + " must be " + expected + ", got string " + short_value(*v));
  }
  throw type_error(field, expected.c_str(), *v);
}

void check_prompt(const std::string& field, const std::string& text, bool required, const ValidationLimits& limits) {
  if (required) {
    bool blank = true;
    for (char c : text) blank = blank && std::isspace(static_cast<unsigned char>(c));
    if (blank) throw invalid_field(field, field + " must not be empty");
  }
  if (text.find('\0') != std::string::npos)
    throw invalid_field(field, field + " must not contain a NUL character (\\u0000)");
  if (text.size() > limits.max_prompt_bytes)
    throw invalid_field(field, field + " must be at most " + std::to_string(limits.max_prompt_bytes) + " bytes, got " +
                                   std::to_string(text.size()));
}

void check_side(const std::string& field, int value, const ValidationLimits& limits) {
  if (value < limits.min_side || value > limits.max_side || value % 8 != 0)
    throw invalid_field(field, field + " must be a multiple of 8 between " + std::to_string(limits.min_side) + " and " +
                                   std::to_string(limits.max_side) + ", got " + std::to_string(value));
}

void check_derived_size(const std::string& field, const Image& image, const ValidationLimits& limits) {
  const int w = image.width - image.width % 8, h = image.height - image.height % 8;
  auto fits = [&](int v) { return v >= limits.min_side && v <= limits.max_side; };
  if (!fits(w) || !fits(h))
    throw invalid_field(field, field + " is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                                   "; the output size (rounded down to multiples of 8: " + std::to_string(w) + "x" +
                                   std::to_string(h) + ") must be between " + std::to_string(limits.min_side) +
                                   " and " + std::to_string(limits.max_side) + " per side; pass width/height to resize");
}

Image decode_field_image(const std::string& field, const std::string& base64, const ValidationLimits& limits) {
  if (base64.empty()) throw invalid_field(field, field + " must not be empty (a base64 PNG or JPEG)");
  try {
    return decode_image_base64(base64, limits.max_input_pixels);
  } catch (const ImageError& e) {
    throw ApiError(ErrorType::invalid_request, "INVALID_IMAGE", field + ": " + e.what(), field);
  }
}

}  // namespace sdw::net
