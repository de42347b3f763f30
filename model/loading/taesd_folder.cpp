// TAESD folder loading (see taesd_folder.h).
#include "model/loading/taesd_folder.h"

#include <filesystem>
#include <stdexcept>

#include "model/loading/diffusers_folder.h"
#include "model/loading/state_dict.h"

namespace sdw {

AutoencoderTiny load_taesd(const std::string& dir, const at::TensorOptions& options) {
  if (!std::filesystem::exists(dir + "/config.json"))
    throw LoadError("TAESD folder '" + dir + "' has no config.json (an AutoencoderTiny folder is expected)");
  const nlohmann::json j = read_json_file(dir + "/config.json");
  const std::string cls = j.value("_class_name", "AutoencoderTiny");
  if (cls != "AutoencoderTiny")
    throw LoadError("TAESD folder '" + dir + "' holds a " + cls + ", not an AutoencoderTiny");
  AutoencoderTinyConfig config;
  try {
    config = AutoencoderTinyConfig::from_json(j);
  } catch (const std::invalid_argument& e) {
    throw LoadError(std::string(e.what()) + " (" + dir + ")");
  }
  AutoencoderTiny taesd(config, options);
  LoadOptions o;
  o.what = "TAESD from " + dir;
  load_state_dict(*taesd, read_component_tensors(dir), o);
  taesd->eval();
  return taesd;
}

}  // namespace sdw
