// serve --controlnet DIR (repeatable): the ControlNets a worker offers, named by their folder.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sdw {

// name (the folder's name) -> folder, for each diffusers ControlNet folder given. Throws
// std::invalid_argument for a folder that is not a ControlNetModel folder or a name given twice.
std::shared_ptr<const std::map<std::string, std::string>> served_controlnets(const std::vector<std::string>& dirs);

}  // namespace sdw
