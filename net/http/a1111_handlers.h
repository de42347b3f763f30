// Handlers of the AUTOMATIC1111 API routes (`/sdapi/v1/...`): txt2img and img2img (each a run of
// jobs through the worker, answered with A1111's {images, parameters, info}), progress (with a
// preview of the current job), interrupt, skip, and the listings A1111 clients read at start-up
// (samplers, schedulers, sd-models, options, loras, memory). Errors use A1111's shape (the route
// table says so). docs/a1111-api.md.
#pragma once

#include "net/http/handler.h"

namespace sdw::net {

void handle_a1111_txt2img(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_a1111_img2img(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_a1111_progress(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_a1111_interrupt(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_a1111_skip(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_a1111_samplers(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_a1111_schedulers(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_a1111_sd_models(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_a1111_get_options(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
// Accepts only {"sd_model_checkpoint": <the served model or an alias>} (one model per process).
void handle_a1111_set_options(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_a1111_loras(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_a1111_memory(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace sdw::net
