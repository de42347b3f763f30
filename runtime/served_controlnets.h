// serve --controlnet PATH (repeatable): the ControlNets a worker offers, named by their folder or
// single file (without .safetensors).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sdw {

// name (the folder's name, a file's stem) -> path, for each diffusers ControlNet folder or
// single-file ControlNet given. Throws std::invalid_argument for a path that is neither, or a name
// given twice.
std::shared_ptr<const std::map<std::string, std::string>> served_controlnets(const std::vector<std::string>& dirs);

}  // namespace sdw
