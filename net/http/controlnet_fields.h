// A job's ControlNets over HTTP: the served ControlNets (serve --controlnet DIR, named by their
// folder), the `controlnets` and `guess_mode` job fields, and `GET /v1/controlnets`.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "model/pipeline/request.h"
#include "net/http/handler.h"
#include "net/http/validation.h"

namespace sdw::net {

// Served ControlNets: name (the folder's name) -> folder.
using ServedControlNets = std::map<std::string, std::string>;

// `controlnets: [{"model", "image" (base64 PNG/JPEG/...), "scale" (0..2, default 1), "start"
// (0..1, default 0), "end" (0..1, default 1), "preprocess" ("none" | "canny"), "canny_low"
// (default 100), "canny_high" (default 200)}]` (at most 4; start < end) and `guess_mode` (needs a
// ControlNet). ApiError 400 naming the field: INVALID_FIELD, MISSING_FIELD, INVALID_IMAGE, and
// CONTROLNET_NOT_FOUND for a model this worker does not serve. Whether the net fits the model
// (its family) is checked when the job is validated against the loaded model (also a 400).
void parse_controlnets(const FieldReader& fields, GenerationRequest& request, const ServedControlNets* served,
                       const ValidationLimits& limits);

// {"object":"list","data":[{"name","path","loaded","cross_attention_dim","block_out_channels",
// "conditioning_downscale"}]} (a folder whose config does not read is listed with "error");
// `loaded`: in the model's memory on every device whose model is loaded (serve loads them with it).
void handle_controlnets(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace sdw::net
