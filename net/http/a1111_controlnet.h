// ControlNet on the AUTOMATIC1111 routes, as the sd-webui-controlnet extension takes it:
// `alwayson_scripts: {"controlnet": {"args": [unit, ...]}}` on /sdapi/v1/txt2img and img2img, each
// unit {"enabled", "image" (or the older "input_image"), "model", "weight", "guidance_start",
// "guidance_end", "module", "threshold_a", "threshold_b", "control_mode", "resize_mode", ...},
// mapped onto the rbee job's `controlnets` / `guess_mode` fields (one vocabulary: the rbee parser
// then checks them as for any job). What is honoured: docs/controlnet.md.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "net/http/errors.h"

namespace sdw::net {

struct A1111ControlNets {
  nlohmann::json controlnets = nlohmann::json::array();  // the rbee `controlnets` items
  bool guess_mode = false;                               // control_mode "ControlNet is more important"
  std::vector<int> arg_index;  // controlnets[k] came from args[arg_index[k]] (disabled units are left out)
  // Per unit: its resize_mode crops or pads ("Crop and Resize", the extension's default, or "Resize
  // and Fill"), which equals the plain resize only when the control image has the output's aspect.
  std::vector<bool> same_aspect;
  bool empty() const { return controlnets.empty(); }
};

// The enabled units of `body.alwayson_scripts.controlnet` (absent: none). Throws ApiError 400
// naming the A1111 field (alwayson_scripts.controlnet.args[i].<field>) for a unit this worker
// cannot run: a module other than none/canny, control_mode "My prompt is more important", a
// resize mode that would crop or pad, a unit mask, units that disagree on control_mode.
A1111ControlNets parse_a1111_controlnets(const nlohmann::json& body);

// An error the rbee parser raised on controlnets[k].<field> / guess_mode, renamed to the unit's
// A1111 field (model, image, weight, guidance_start, guidance_end, module, threshold_a/b); other
// errors as they are.
ApiError renamed_controlnet_error(const ApiError& error, const A1111ControlNets& units);

}  // namespace sdw::net
