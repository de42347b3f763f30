// The CPU fast paths' on/off environment switches (SDW_CPU_ONEDNN, SDW_CPU_PREPACK,
// SDW_CPU_WINOGRAD, SDW_CPU_BLOCKED_ATTENTION, SDW_CPU_FUSED_NORM): one reading of their values
// for all of them.
#pragma once

namespace sdw::nn {

// `fallback` when `name` is unset or empty; false for "0", "false" or "off"; true otherwise.
bool env_switch(const char* name, bool fallback);

}  // namespace sdw::nn
