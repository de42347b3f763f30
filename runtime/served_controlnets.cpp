// The served ControlNets (see served_controlnets.h).
#include "runtime/served_controlnets.h"

#include <filesystem>
#include <stdexcept>

#include "model/loading/controlnet_folder.h"

namespace sdw {

std::shared_ptr<const std::map<std::string, std::string>> served_controlnets(const std::vector<std::string>& dirs) {
  auto out = std::make_shared<std::map<std::string, std::string>>();
  for (const std::string& dir : dirs) {
    const std::string name = controlnet_name(dir);  // a folder's name, a file's stem
    std::error_code ec;
    if (std::filesystem::is_regular_file(dir, ec)) {
      try {  // a pickle file, or a .safetensors that is not a ControlNet: the loader's reason
        read_controlnet_config(dir);
      } catch (const std::exception& e) {
        throw std::invalid_argument("--controlnet " + dir + ": " + e.what());
      }
    }
    if (!is_controlnet_path(dir))
      throw std::invalid_argument("--controlnet " + dir +
                                  ": neither a diffusers ControlNet folder (config.json with _class_name ControlNetModel) "
                                  "nor a single-file ControlNet (.safetensors)");
    if (!out->emplace(name, dir).second)
      throw std::invalid_argument("--controlnet " + dir + ": a ControlNet named '" + name + "' is given twice");
  }
  return out;
}

}  // namespace sdw
