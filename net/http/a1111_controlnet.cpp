// sd-webui-controlnet units -> the rbee `controlnets` field (see a1111_controlnet.h).
#include "net/http/a1111_controlnet.h"

#include <cctype>
#include <string>

namespace sdw::net {
namespace {

const char* const kArgs = "alwayson_scripts.controlnet.args";

std::string arg_field(size_t i, const std::string& key) { return std::string(kArgs) + "[" + std::to_string(i) + "]." + key; }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A1111's decode_base64_to_image takes "data:image/png;base64,..." as well as bare base64.
std::string strip_data_url(const std::string& s) {
  if (s.rfind("data:", 0) != 0) return s;
  const size_t comma = s.find(',');
  return comma == std::string::npos ? s : s.substr(comma + 1);
}

// The webui's model names carry the file's short hash: "control_v11p_sd15_canny [d14c016b]".
std::string model_name(std::string name) {
  const size_t open = name.rfind(" [");
  if (open != std::string::npos && !name.empty() && name.back() == ']') name.resize(open);
  return name;
}

// control_mode: 0 "Balanced", 1 "My prompt is more important", 2 "ControlNet is more important".
int control_mode(const nlohmann::json& v, size_t i) {
  if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= 2) return static_cast<int>(v.get<int64_t>());
  if (v.is_string()) {
    const std::string s = lower(v.get<std::string>());
    if (s == "balanced") return 0;
    if (s == "my prompt is more important") return 1;
    if (s == "controlnet is more important") return 2;
  }
  throw invalid_field(arg_field(i, "control_mode"),
                      arg_field(i, "control_mode") + " must be 0 \"Balanced\", 1 \"My prompt is more important\" or 2 "
                                                     "\"ControlNet is more important\", got " + v.dump());
}

// resize_mode: 0 "Just Resize", 1 "Crop and Resize" (the extension's default), 2 "Resize and Fill".
int resize_mode(const nlohmann::json& v, size_t i) {
  if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= 2) return static_cast<int>(v.get<int64_t>());
  if (v.is_string()) {
    const std::string s = lower(v.get<std::string>());
    if (s == "just resize" || s == "resize") return 0;
    if (s == "crop and resize" || s == "inner fit (scale to fit)") return 1;
    if (s == "resize and fill" || s == "outer fit (shrink to fit)") return 2;
  }
  throw invalid_field(arg_field(i, "resize_mode"), arg_field(i, "resize_mode") +
                                                       " must be \"Just Resize\", \"Crop and Resize\" or \"Resize and Fill\" "
                                                       "(0, 1, 2), got " + v.dump());
}

}  // namespace

A1111ControlNets parse_a1111_controlnets(const nlohmann::json& body) {
  A1111ControlNets out;
  if (!body.contains("alwayson_scripts") || body["alwayson_scripts"].is_null()) return out;
  const auto& scripts = body["alwayson_scripts"];
  if (!scripts.is_object()) throw invalid_field("alwayson_scripts", "alwayson_scripts must be an object");
  const nlohmann::json* script = nullptr;
  for (const auto& [name, value] : scripts.items()) {
    if (lower(name) != "controlnet")
      throw invalid_field("alwayson_scripts." + name, "alwayson_scripts." + name +
                                                          ": this worker has no such script; it has \"controlnet\"");
    script = &value;
  }
  if (!script || script->is_null()) return out;
  if (!script->is_object() || !script->contains("args") || !(*script)["args"].is_array())
    throw invalid_field(kArgs, std::string(kArgs) + " must be an array of ControlNet units");
  const auto& args = (*script)["args"];
  int mode = -1;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& unit = args[i];
    if (!unit.is_object())
      throw invalid_field(std::string(kArgs) + "[" + std::to_string(i) + "]", std::string(kArgs) + "[" + std::to_string(i) +
                                                                                   "] must be an object (a ControlNet unit)");
    if (unit.contains("enabled") && !unit["enabled"].is_null()) {
      if (!unit["enabled"].is_boolean()) throw invalid_field(arg_field(i, "enabled"), arg_field(i, "enabled") + " must be a boolean");
      if (!unit["enabled"].get<bool>()) continue;  // the extension skips disabled units
    }
    nlohmann::json cn = nlohmann::json::object();
    // model: a served ControlNet's name, with or without the webui's " [hash]"; "None" is none.
    if (unit.contains("model") && unit["model"].is_string() && lower(unit["model"].get<std::string>()) != "none" &&
        !unit["model"].get<std::string>().empty())
      cn["model"] = model_name(unit["model"].get<std::string>());
    else if (unit.contains("model") && !unit["model"].is_null() && !unit["model"].is_string())
      throw invalid_field(arg_field(i, "model"), arg_field(i, "model") + " must be the name of a served ControlNet");
    else
      throw missing_field(arg_field(i, "model"));
    // image (the older name: input_image): base64, or {"image", "mask"}; a unit mask is not supported.
    const char* key = unit.contains("image") && !unit["image"].is_null() ? "image" : "input_image";
    nlohmann::json image = unit.contains(key) ? unit[key] : nlohmann::json(nullptr);
    if (image.is_object()) {
      if (image.contains("mask") && !image["mask"].is_null() && !(image["mask"].is_string() && image["mask"].get<std::string>().empty()))
        throw invalid_field(arg_field(i, key), arg_field(i, key) + ".mask: unit masks are not supported by this worker");
      image = image.contains("image") ? image["image"] : nlohmann::json(nullptr);
    }
    if (unit.contains("mask") && unit["mask"].is_string() && !unit["mask"].get<std::string>().empty())
      throw invalid_field(arg_field(i, "mask"), arg_field(i, "mask") + ": unit masks are not supported by this worker");
    if (image.is_null()) throw missing_field(arg_field(i, "image"));
    if (!image.is_string()) throw invalid_field(arg_field(i, key), arg_field(i, key) + " must be a base64 image string");
    cn["image"] = strip_data_url(image.get<std::string>());
    if (unit.contains("weight") && !unit["weight"].is_null()) cn["scale"] = unit["weight"];
    if (unit.contains("guidance_start") && !unit["guidance_start"].is_null()) cn["start"] = unit["guidance_start"];
    if (unit.contains("guidance_end") && !unit["guidance_end"].is_null()) cn["end"] = unit["guidance_end"];
    // module: the preprocessor. "none" (the image is the control image) or "canny" (threshold_a /
    // threshold_b its low / high thresholds; -1 or absent: 100 / 200 as the extension's canny).
    const std::string module = unit.contains("module") && unit["module"].is_string() ? lower(unit["module"].get<std::string>()) : "none";
    if (unit.contains("module") && !unit["module"].is_null() && !unit["module"].is_string())
      throw invalid_field(arg_field(i, "module"), arg_field(i, "module") + " must be a string");
    if (module != "none" && module != "canny")
      throw invalid_field(arg_field(i, "module"), arg_field(i, "module") + " \"" + unit["module"].get<std::string>().substr(0, 60) +
                                                      "\" is not available on this worker; it has \"none\" and \"canny\"");
    cn["preprocess"] = module;
    if (module == "canny") {
      for (const auto& [a1111, rbee] : {std::pair<const char*, const char*>{"threshold_a", "canny_low"}, {"threshold_b", "canny_high"}}) {
        if (!unit.contains(a1111) || unit[a1111].is_null()) continue;
        if (unit[a1111].is_number() && unit[a1111].get<double>() == -1) continue;  // the module's default
        cn[rbee] = unit[a1111];
      }
    }
    const int m = unit.contains("control_mode") && !unit["control_mode"].is_null() ? control_mode(unit["control_mode"], i) : 0;
    if (m == 1)
      throw invalid_field(arg_field(i, "control_mode"), arg_field(i, "control_mode") +
                                                            " \"My prompt is more important\" is not supported by this worker; "
                                                            "send \"Balanced\" or \"ControlNet is more important\" (guess mode)");
    if (mode >= 0 && m != mode)
      throw invalid_field(arg_field(i, "control_mode"),
                          arg_field(i, "control_mode") + ": every enabled unit must have the same control_mode here "
                                                         "(guess mode is per job)");
    mode = m;
    const int resize = unit.contains("resize_mode") && !unit["resize_mode"].is_null() ? resize_mode(unit["resize_mode"], i) : 1;
    out.same_aspect.push_back(resize != 0);
    out.controlnets.push_back(std::move(cn));
    out.arg_index.push_back(static_cast<int>(i));
  }
  out.guess_mode = mode == 2;
  return out;
}

ApiError renamed_controlnet_error(const ApiError& e, const A1111ControlNets& units) {
  static const std::pair<const char*, const char*> kFields[] = {
      {"model", "model"}, {"image", "image"}, {"scale", "weight"}, {"start", "guidance_start"}, {"end", "guidance_end"},
      {"preprocess", "module"}, {"canny_low", "threshold_a"}, {"canny_high", "threshold_b"}};
  const std::string param = e.param();
  if (param == "controlnets") return ApiError(e.type(), e.code(), std::string(kArgs) + ": " + e.what(), kArgs);
  if (param.rfind("controlnets[", 0) != 0) return e;
  const size_t close = param.find(']');
  if (close == std::string::npos) return e;
  const size_t k = std::stoul(param.substr(12, close - 12));
  if (k >= units.arg_index.size()) return e;
  const std::string rbee_prefix = param.substr(0, close + 1);
  const std::string rest = close + 1 < param.size() && param[close + 1] == '.' ? param.substr(close + 2) : "";
  std::string a1111_key = rest;
  for (const auto& [rbee, a1111] : kFields)
    if (rest == rbee) a1111_key = a1111;
  const std::string a1111_prefix = std::string(kArgs) + "[" + std::to_string(units.arg_index[k]) + "]";
  const std::string a1111_param = a1111_key.empty() ? a1111_prefix : a1111_prefix + "." + a1111_key;
  // Every mention of the unit's fields in the message, e.g. "controlnets[0].start must be less
  // than controlnets[0].end" -> "...args[0].guidance_start must be less than ...args[0].guidance_end".
  std::string message = e.what();
  auto replace_all = [&message](const std::string& from, const std::string& to) {
    for (size_t at = message.find(from); at != std::string::npos; at = message.find(from, at + to.size()))
      message.replace(at, from.size(), to);
  };
  for (const auto& [rbee, a1111] : kFields) replace_all(rbee_prefix + "." + rbee, a1111_prefix + "." + a1111);
  if (message.rfind(rbee_prefix, 0) == 0) message = a1111_prefix + message.substr(rbee_prefix.size());
  return ApiError(e.type(), e.code(), message, a1111_param);
}

}  // namespace sdw::net
