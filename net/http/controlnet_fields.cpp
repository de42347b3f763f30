// ControlNet job fields and listing (see controlnet_fields.h).
#include "net/http/controlnet_fields.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "model/loading/controlnet_folder.h"
#include "net/http/errors.h"
#include "net/http/server_context.h"

namespace sdw::net {
namespace {

constexpr size_t kMaxControlNets = 4;

double bounded(const nlohmann::json& item, const char* key, const std::string& field, double fallback, double min,
               double max) {
  if (!item.contains(key) || item[key].is_null()) return fallback;
  const auto& v = item[key];
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < min || v.get<double>() > max)
    throw invalid_field(field + "." + key, field + "." + key + " must be a number between " + nlohmann::json(min).dump() +
                                               " and " + nlohmann::json(max).dump() + ", got " + item[key].dump());
  return v.get<double>();
}

}  // namespace

void parse_controlnets(const FieldReader& fields, GenerationRequest& r, const ServedControlNets* served,
                       const ValidationLimits& limits) {
  const auto* list = fields.get("controlnets");
  if (list) {
    if (!list->is_array()) throw invalid_field("controlnets", "controlnets must be an array, got " + json_type(*list));
    if (list->size() > kMaxControlNets) throw invalid_field("controlnets", "at most 4 ControlNets per job");
    for (size_t i = 0; i < list->size(); ++i) {
      const auto& item = (*list)[i];
      const std::string field = "controlnets[" + std::to_string(i) + "]";
      if (!item.is_object())
        throw invalid_field(field, field + " must be an object {\"model\",\"image\",\"scale\",\"start\",\"end\"}, got " +
                                       json_type(item));
      for (const auto& [key, value] : item.items())
        if (key != "model" && key != "image" && key != "scale" && key != "start" && key != "end" && key != "preprocess" &&
            key != "canny_low" && key != "canny_high")
          throw invalid_field(field + "." + key, field + ": unknown field '" + key + "'");
      if (!item.contains("model") || item["model"].is_null()) throw missing_field(field + ".model");
      if (!item["model"].is_string() || item["model"].get<std::string>().empty())
        throw invalid_field(field + ".model", field + ".model must be the name of a served ControlNet");
      const std::string name = item["model"];
      const auto found = served ? served->find(name) : ServedControlNets::const_iterator{};
      if (!served || found == served->end())
        throw ApiError(ErrorType::invalid_request, "CONTROLNET_NOT_FOUND",
                       field + ".model: ControlNet '" + name + "' is not served here" +
                           (served && !served->empty() ? " (GET /v1/controlnets lists them)" : " (serve --controlnet DIR)"),
                       field + ".model");
      if (!item.contains("image") || item["image"].is_null()) throw missing_field(field + ".image");
      if (!item["image"].is_string()) throw invalid_field(field + ".image", field + ".image must be a base64 image string");
      ControlNetUse use;
      use.path = found->second;
      use.name = name;
      use.image = decode_field_image(field + ".image", item["image"].get<std::string>(), limits);
      use.scale = bounded(item, "scale", field, 1.0, 0.0, 2.0);
      use.start = bounded(item, "start", field, 0.0, 0.0, 1.0);
      use.end = bounded(item, "end", field, 1.0, 0.0, 1.0);
      if (use.start >= use.end)
        throw invalid_field(field + ".start", field + ".start must be less than " + field + ".end");
      if (item.contains("preprocess") && !item["preprocess"].is_null()) {
        if (!item["preprocess"].is_string() || (item["preprocess"] != "none" && item["preprocess"] != "canny"))
          throw invalid_field(field + ".preprocess", field + ".preprocess must be \"none\" or \"canny\", got " +
                                                         item["preprocess"].dump());
        use.preprocess = item["preprocess"];
      }
      use.canny_low = bounded(item, "canny_low", field, 100.0, 0.0, 255.0);
      use.canny_high = bounded(item, "canny_high", field, 200.0, 0.0, 255.0);
      if (use.canny_low > use.canny_high)
        throw invalid_field(field + ".canny_low", field + ".canny_low must not exceed " + field + ".canny_high");
      r.controlnets.push_back(std::move(use));
    }
  }
  r.guess_mode = fields.boolean("guess_mode", false);
  if (r.guess_mode && r.controlnets.empty()) throw invalid_field("guess_mode", "guess_mode needs at least one ControlNet");
}

void handle_controlnets(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  nlohmann::json data = nlohmann::json::array();
  if (ctx.config.jobs.controlnets) {
    const WorkerHealth health = ctx.worker.health();
    for (const auto& [name, dir] : *ctx.config.jobs.controlnets) {
      // loaded: in the model's memory on every device whose model is loaded (serve loads them with it)
      bool loaded = false, all = true;
      for (const DeviceModelState& d : health.devices) {
        if (d.state != "ready") continue;
        const bool here = std::find(d.controlnets.begin(), d.controlnets.end(), dir) != d.controlnets.end();
        loaded = loaded || here;
        all = all && here;
      }
      nlohmann::json item = {{"name", name}, {"path", dir}, {"loaded", loaded && all}};
      try {  // the config's own fields (a single file's from its header; the weights are read when a job first uses the net)
        const ControlNetConfig c = read_controlnet_config(dir);
        item["cross_attention_dim"] = c.unet.cross_attention_dim.at(0);
        item["block_out_channels"] = c.unet.block_out_channels;
        item["conditioning_downscale"] = c.cond_downscale();
      } catch (const std::exception& e) {
        item["error"] = e.what();
      }
      data.push_back(std::move(item));
    }
  }
  send_json(res, 200, {{"object", "list"}, {"data", data}});
}

}  // namespace sdw::net
