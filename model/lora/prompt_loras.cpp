// `<lora:name:weight>` tags out of a prompt (see prompt_loras.h).
#include "model/lora/prompt_loras.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>

#include "model/lora/lora_file.h"

namespace sdw {
namespace {

bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == sep)
      out.emplace_back();
    else
      out.back().push_back(c);
  }
  return out;
}

// Python's float(): surrounding whitespace allowed, the rest must be a number; finite here.
double parse_number(const std::string& text, const std::string& tag) {
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  const std::string t = text.substr(b, e - b);
  char* end = nullptr;
  const double v = t.empty() ? 0 : std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(v))
    throw LoraError("prompt tag '" + tag + "': '" + text + "' is not a strength (a number such as 0.8)");
  return v;
}

// One tag's arguments ("name:0.8", "name:te=0.5") -> name and strength.
PromptLora read_tag(const std::string& args, const std::string& tag) {
  std::vector<std::string> positional;
  std::map<std::string, std::string> named;
  for (const std::string& item : split(args, ':')) {
    const std::vector<std::string> parts = split(item, '=');
    if (parts.size() == 2)
      named[parts[0]] = parts[1];
    else
      positional.push_back(item);
  }
  if (positional.empty() || positional[0].empty()) throw LoraError("prompt tag '" + tag + "' names no LoRA");
  if (named.count("dyn") || positional.size() > 3)
    throw LoraError("prompt tag '" + tag + "': dynamic LoRA dimensions (dyn) are not supported");
  PromptLora l;
  l.name = positional[0];
  double te = positional.size() > 1 ? parse_number(positional[1], tag) : 1.0;
  if (named.count("te")) te = parse_number(named["te"], tag);
  double unet = positional.size() > 2 ? parse_number(positional[2], tag) : te;
  if (named.count("unet")) unet = parse_number(named["unet"], tag);
  if (unet != te)
    throw LoraError("prompt tag '" + tag + "': separate UNet and text-encoder strengths are not supported (one strength "
                    "applies to both, as in diffusers)");
  l.strength = te;
  return l;
}

}  // namespace

PromptLoras extract_prompt_loras(const std::string& prompt) {
  PromptLoras out;
  size_t i = 0;
  while (i < prompt.size()) {
    if (prompt[i] != '<') {
      out.prompt.push_back(prompt[i++]);
      continue;
    }
    // <(\w+):([^>]+)>
    size_t j = i + 1;
    while (j < prompt.size() && is_word(prompt[j])) ++j;
    const size_t close = j < prompt.size() && prompt[j] == ':' ? prompt.find('>', j + 1) : std::string::npos;
    if (j == i + 1 || close == std::string::npos || close == j + 1) {
      out.prompt.push_back(prompt[i++]);
      continue;
    }
    const std::string kind = prompt.substr(i + 1, j - i - 1);
    const std::string tag = prompt.substr(i, close + 1 - i);
    if (kind == "lora" || kind == "lyco")
      out.loras.push_back(read_tag(prompt.substr(j + 1, close - j - 1), tag));
    else
      out.prompt += tag;  // another extra network: not ours, left as written
    i = close + 1;
  }
  return out;
}

}  // namespace sdw
