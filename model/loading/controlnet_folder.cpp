// ControlNet folders (see controlnet_folder.h).
#include "model/loading/controlnet_folder.h"

#include <filesystem>
#include <stdexcept>

#include "model/loading/controlnet_single_file.h"
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

bool is_controlnet_path(const std::string& path) { return is_controlnet_folder(path) || is_controlnet_file(path); }

std::string controlnet_name(const std::string& path) {
  const std::filesystem::path p = std::filesystem::path(path).lexically_normal();
  const std::filesystem::path named = p.has_filename() ? p : p.parent_path();
  std::error_code ec;
  return std::filesystem::is_regular_file(named, ec) ? named.stem().string() : named.filename().string();
}

ControlNetConfig read_controlnet_config(const std::string& path, const UNet2DConditionConfig* like) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return controlnet_file_config(path, like);
  if (!is_controlnet_folder(path))
    throw LoadError(path + " is neither a diffusers ControlNetModel folder nor a single-file ControlNet (.safetensors)");
  try {
    return ControlNetConfig::from_json(read_json_file(path + "/config.json"));
  } catch (const std::invalid_argument& e) {
    throw LoadError("ControlNet folder " + path + ": " + e.what());
  }
}

ControlNetModel load_controlnet(const std::string& dir, const at::TensorOptions& options, const std::string& variant,
                                const UNet2DConditionConfig* like) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(dir, ec)) return load_controlnet_file(dir, options, like);
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
