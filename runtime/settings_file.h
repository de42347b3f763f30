// JSON settings files for the command line (`serve --config`, `node --config`): one JSON object
// whose keys are the long flag names (`max-batch` or `max_batch`), values strings, numbers,
// true/false for flags, arrays for repeatable options; comments allowed; null or "" = not set.
// The file's settings become extra `--name=value` arguments, so CLI11 checks them exactly like
// flags; what the command line or an option's environment variable gives wins over the file.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace sdw {

// `--config FILE` or `--config=FILE` from argv, else the environment variable `env_var`; "" if none.
std::string find_config_path(int argc, char** argv, const char* env_var);

// The file's settings as arguments for `app` (`flag_names`: its options that take no value).
// Throws std::invalid_argument for an unreadable file, bad JSON, an unknown key or a bad value type.
std::vector<std::string> config_arguments(const std::string& path, CLI::App& app, const std::set<std::string>& flag_names,
                                          int argc, char** argv);

}  // namespace sdw
