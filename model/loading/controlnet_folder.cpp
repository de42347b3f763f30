// ControlNet folders (see controlnet_folder.h).
#include "model/loading/controlnet_folder.h"

#include <filesystem>
#include <stdexcept>

#include "model/loading/diffusers_folder.h"
#include "model/loading/state_dict.h"

namespace sdw {

bool is_controlnet_folder(const std::string& dir) {
  const std::string config = dir + "/config.json";
  if (!std::filesystem::is_regular_file(config)) return false;
  try {
    const auto j = read_json_file(config);
    return j.value("_class_name", std::string()) == "ControlNetModel";
  } catch (const std::exception&) {
    return false;
  }
}

ControlNetModel load_controlnet(const std::string& dir, const at::TensorOptions& options, const std::string& variant) {
  const std::string config_path = dir + "/config.json";
  if (!std::filesystem::is_regular_file(config_path)) throw LoadError("ControlNet folder " + dir + " has no config.json");
  const auto j = read_json_file(config_path);
  const std::string cls = j.value("_class_name", std::string());
  if (cls != "ControlNetModel")
    throw LoadError("ControlNet folder " + dir + ": config.json's _class_name is '" + cls + "', not ControlNetModel");
  ControlNetConfig config;
  try {
    config = ControlNetConfig::from_json(j);
  } catch (const std::invalid_argument& e) {
    throw LoadError("ControlNet folder " + dir + ": " + e.what());
  }
  ControlNetModel net(config, options);
  LoadOptions o;
  o.what = "ControlNet from " + dir;
  load_state_dict(*net, read_component_tensors(dir, variant), o);
  net->eval();
  return net;
}

}  // namespace sdw
