// Reading the networks' config.json files (diffusers / transformers): a key's value, or the
// class's default when the key is absent or null, as `from_pretrained` fills in defaults.
#pragma once

#include <nlohmann/json.hpp>

namespace sdw {

template <typename T>
T get_or(const nlohmann::json& j, const char* key, T fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return j[key].get<T>();
}

}  // namespace sdw
