// Python-flavoured JSON (see diffusers_json.h).
#include "model/safetensors/diffusers_json.h"

#include <fstream>
#include <sstream>

namespace sdw {

nlohmann::json parse_diffusers_json(const std::string& text) {
  // Rewrites the bare tokens Infinity / -Infinity / NaN (outside strings) as strings.
  std::string out;
  out.reserve(text.size() + 16);
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      out += ch;
      if (ch == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (ch == '"') {
        in_string = false;
      }
      continue;
    }
    if (ch == '"') {
      in_string = true;
      out += ch;
      continue;
    }
    bool replaced = false;
    for (const char* token : {"-Infinity", "Infinity", "NaN"}) {
      const size_t n = std::char_traits<char>::length(token);
      if (text.compare(i, n, token) == 0) {
        out += '"';
        out += token;
        out += '"';
        i += n - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += ch;
  }
  try {
    return nlohmann::json::parse(out);
  } catch (const nlohmann::json::exception& e) {
    throw DiffusersJsonError(std::string("invalid JSON: ") + e.what());
  }
}

nlohmann::json read_diffusers_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw DiffusersJsonError("cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return parse_diffusers_json(ss.str());
  } catch (const DiffusersJsonError& e) {
    throw DiffusersJsonError("'" + path + "': " + e.what());
  }
}

}  // namespace sdw
