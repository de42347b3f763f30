// JSON settings files (see settings_file.h).
#include "runtime/settings_file.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sdw {
namespace {

bool env_set(const std::string& name) {
  const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
  return v && *v;
}

// Whether argv names the option (`--name value` or `--name=value`) under any of its long names.
bool given_on_command_line(const CLI::Option& opt, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") break;
    for (const std::string& n : opt.get_lnames())
      if (a == "--" + n || a.rfind("--" + n + "=", 0) == 0) return true;
  }
  return false;
}

}  // namespace

std::string find_config_path(int argc, char** argv, const char* env_var) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) return argv[i + 1];
    if (a.rfind("--config=", 0) == 0) return a.substr(9);
  }
  const char* v = std::getenv(env_var);
  return v ? v : "";
}

namespace {

std::string scalar_text(const nlohmann::json& v, const std::string& key) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) {
    std::ostringstream os;
    os << v.get<double>();
    return os.str();
  }
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  throw std::invalid_argument("setting '" + key + "' must be a string, a number or a boolean");
}

}  // namespace

std::vector<std::string> config_arguments(const std::string& path, CLI::App& app,
                                          const std::set<std::string>& flag_names, int argc, char** argv) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read the config file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str(), nullptr, true, /*ignore_comments=*/true);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e400
    throw std::invalid_argument("config file '" + path + "' is not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw std::invalid_argument("config file '" + path + "' must hold one JSON object");
  std::vector<std::string> args;
  for (const auto& [raw_key, value] : j.items()) {
    std::string key = raw_key;
    std::replace(key.begin(), key.end(), '_', '-');
    CLI::Option* opt = key == "config" || key == "help" || key == "print-config" ? nullptr : app.get_option_no_throw("--" + key);
    if (!opt) throw std::invalid_argument("config file '" + path + "': unknown setting '" + raw_key + "'");
    if (value.is_null() || (value.is_string() && value.get<std::string>().empty())) continue;  // = not set
    if (given_on_command_line(*opt, argc, argv) || env_set(opt->get_envname())) continue;
    const bool is_flag = flag_names.count(opt->get_lnames().front()) > 0;
    if (is_flag) {
      if (!value.is_boolean()) throw std::invalid_argument("config file '" + path + "': '" + raw_key + "' must be true or false");
      if (value.get<bool>()) args.push_back("--" + opt->get_lnames().front());
      continue;
    }
    if (value.is_array()) {
      for (const auto& item : value) args.push_back("--" + opt->get_lnames().front() + "=" + scalar_text(item, raw_key));
      continue;
    }
    args.push_back("--" + opt->get_lnames().front() + "=" + scalar_text(value, raw_key));
  }
  return args;
}

}  // namespace sdw
