// Hub configuration from the environment (see hub_config.h); mirrors huggingface_hub.constants.
#include "net/hub/hub_config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sdw::net {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// os.path.expanduser for "~" and "~/...".
std::string expand_user(const std::string& path, const EnvLookup& env) {
  if (path.empty() || path[0] != '~' || (path.size() > 1 && path[1] != '/')) return path;
  const auto home = env("HOME");
  return home ? *home + path.substr(1) : path;
}

std::optional<std::string> non_empty(const EnvLookup& env, const std::string& name) {
  auto v = env(name);
  if (v && !v->empty()) return v;
  return std::nullopt;
}

std::chrono::milliseconds seconds_from(const EnvLookup& env, const std::string& name,
                                       std::chrono::milliseconds fallback) {
  const auto v = non_empty(env, name);
  if (!v) return fallback;
  char* end = nullptr;
  const double s = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || s <= 0) return fallback;
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

}  // namespace

bool env_flag_true(const std::string& value) {
  std::string v = trim(value);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

HubConfig hub_config_from(const EnvLookup& env) {
  HubConfig c;
  if (auto e = non_empty(env, "HF_ENDPOINT")) c.endpoint = *e;
  while (!c.endpoint.empty() && c.endpoint.back() == '/') c.endpoint.pop_back();

  std::string hf_home;
  if (auto h = non_empty(env, "HF_HOME")) {
    hf_home = *h;
  } else {
    const auto xdg = non_empty(env, "XDG_CACHE_HOME");
    hf_home = (xdg ? *xdg : std::string("~/.cache")) + "/huggingface";
  }
  hf_home = expand_user(hf_home, env);
  if (auto cache = non_empty(env, "HF_HUB_CACHE")) {
    c.cache_dir = expand_user(*cache, env);
  } else if (auto legacy = non_empty(env, "HUGGINGFACE_HUB_CACHE")) {
    c.cache_dir = expand_user(*legacy, env);
  } else {
    c.cache_dir = hf_home + "/hub";
  }

  if (auto t = non_empty(env, "HF_TOKEN")) {
    c.token = trim(*t);
  } else if (auto legacy = non_empty(env, "HUGGING_FACE_HUB_TOKEN")) {
    c.token = trim(*legacy);
  } else {
    const auto token_path = non_empty(env, "HF_TOKEN_PATH");
    std::ifstream in(token_path ? expand_user(*token_path, env) : hf_home + "/token");
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      c.token = trim(ss.str());
    }
  }

  const auto offline = non_empty(env, "HF_HUB_OFFLINE");
  const auto legacy_offline = non_empty(env, "TRANSFORMERS_OFFLINE");
  c.offline = (offline && env_flag_true(*offline)) || (!offline && legacy_offline && env_flag_true(*legacy_offline));
  c.metadata_timeout = seconds_from(env, "HF_HUB_ETAG_TIMEOUT", c.metadata_timeout);
  c.download_timeout = seconds_from(env, "HF_HUB_DOWNLOAD_TIMEOUT", c.download_timeout);
  return c;
}

HubConfig hub_config_from_environment() {
  return hub_config_from([](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  });
}

}  // namespace sdw::net
