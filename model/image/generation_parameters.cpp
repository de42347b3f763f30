// A1111 infotext ("parameters" text) formatting.
#include "model/image/generation_parameters.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace sdw {
namespace {

// A1111's infotext_utils.quote: values containing ',', ':' or '\n' become a JSON string
// (json.dumps with ensure_ascii=False).
std::string quote(const std::string& text) {
  if (text.find_first_of(",:\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\v\f";
  size_t begin = s.find_first_not_of(ws);
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(ws);
  return s.substr(begin, end - begin + 1);
}

}  // namespace

std::string format_number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", value);
    std::string s = buf;
    return s == "-0" ? "0" : s;
  }
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

std::string a1111_controlnet_unit(const std::string& module, const std::string& model, double weight, double start,
                                  double end, bool guess_mode) {
  std::string s = "Module: " + module + ", Model: " + model + ", Weight: " + format_number(weight) +
                  ", Guidance Start: " + format_number(start) + ", Guidance End: " + format_number(end);
  if (guess_mode) s += ", Control Mode: ControlNet is more important";
  return s;
}

std::string a1111_parameters(const GenerationParameters& p) {
  std::string fields = "Steps: " + std::to_string(p.steps);
  fields += ", Sampler: " + quote(p.sampler);
  if (!p.schedule_type.empty()) fields += ", Schedule type: " + quote(p.schedule_type);
  fields += ", CFG scale: " + format_number(p.cfg_scale);
  fields += ", Seed: " + std::to_string(p.seed);
  fields += ", Size: " + std::to_string(p.width) + "x" + std::to_string(p.height);
  if (!p.model.empty()) fields += ", Model: " + quote(p.model);
  if (p.denoising_strength) fields += ", Denoising strength: " + format_number(*p.denoising_strength);
  if (p.clip_skip && *p.clip_skip > 1) fields += ", Clip skip: " + std::to_string(*p.clip_skip);
  // A1111's extra_generation_params follow the fixed fields.
  for (const auto& [name, value] : p.hires) fields += ", " + name + ": " + quote(value);
  if (!p.lora_hashes.empty()) fields += ", Lora hashes: " + quote(p.lora_hashes);
  for (size_t i = 0; i < p.controlnets.size(); ++i)
    fields += ", ControlNet " + std::to_string(i) + ": " + quote(p.controlnets[i]);

  std::string text = p.prompt;
  if (!p.negative_prompt.empty()) text += "\nNegative prompt: " + p.negative_prompt;
  text += "\n" + fields;
  return strip(text);
}

}  // namespace sdw
