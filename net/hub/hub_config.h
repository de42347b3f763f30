// Where the Hugging Face Hub client talks to and caches into, read from the same environment
// variables as Python's huggingface_hub (HF_ENDPOINT, HF_HOME, HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE,
// HF_TOKEN / HF_TOKEN_PATH / $HF_HOME/token, HF_HUB_OFFLINE, HF_HUB_ETAG_TIMEOUT,
// HF_HUB_DOWNLOAD_TIMEOUT), so both share one cache and one login.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace sdw::net {

struct HubConfig {
  std::string endpoint = "https://huggingface.co";  // no trailing slash
  std::string cache_dir;                            // the hub cache (holds models--org--name/)
  std::string token;                                // "" = anonymous
  bool offline = false;                             // no network at all: the cache only
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds metadata_timeout{10000};  // revision API and HEAD requests
  std::chrono::milliseconds download_timeout{10000};  // longest silence while a file streams
  int max_attempts = 5;                               // per file transfer, each resuming
  std::chrono::milliseconds retry_delay{1000};        // doubled after each failed attempt, capped
  std::string user_agent = "sd-worker/0.1.0";
};

// An environment lookup: the variable's value, nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The configuration huggingface_hub would use with these variables (the token file is read).
HubConfig hub_config_from(const EnvLookup& env);
// ... with the process environment.
HubConfig hub_config_from_environment();

// huggingface_hub's truth test for flags: 1, ON, YES, TRUE (any case).
bool env_flag_true(const std::string& value);

}  // namespace sdw::net
