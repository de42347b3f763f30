// Environment switches of the CPU fast paths (see env_switch.h).
#include "model/nn/env_switch.h"

#include <cstdlib>
#include <cstring>

namespace sdw::nn {

bool env_switch(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return !(std::strcmp(v, "0") == 0 || std::strcmp(v, "false") == 0 || std::strcmp(v, "off") == 0);
}

}  // namespace sdw::nn
