// The route table and dispatcher (see routes.h).
#include "net/http/routes.h"

#include <httplib.h>

#include <algorithm>
#include <regex>

#include "net/http/a1111_handlers.h"
#include "net/http/controlnet_fields.h"
#include "net/http/errors.h"
#include "net/http/embedding_handlers.h"
#include "net/http/job_handlers.h"
#include "net/http/lora_handlers.h"
#include "net/http/middleware.h"
#include "net/http/openai_handlers.h"
#include "net/http/openapi.h"
#include "net/http/service_handlers.h"
#include "net/http/ui_handlers.h"

namespace sdw::net {
namespace {

thread_local const char* tl_route = "unmatched";

const std::vector<std::pair<const Route*, std::regex>>& compiled_routes() {
  static const auto compiled = [] {
    std::vector<std::pair<const Route*, std::regex>> out;
    for (const auto& r : route_table()) out.emplace_back(&r, std::regex(r.pattern));
    return out;
  }();
  return compiled;
}

// The error shape of a request no route takes (404, 405): the API its path belongs to.
ErrorShape shape_of_path(const std::string& path) {
  if (path.rfind("/sdapi/", 0) == 0) return ErrorShape::a1111;
  if (path.rfind("/v1/images/", 0) == 0) return ErrorShape::openai;
  return ErrorShape::rbee;
}

}  // namespace

const char* method_name(Method method) {
  switch (method) {
    case Method::get: return "GET";
    case Method::post: return "POST";
    case Method::del: return "DELETE";
  }
  return "?";
}

const std::vector<Route>& route_table() {
  static const std::vector<Route> table = {
      {Method::get, "/", "root", handle_health, false},
      {Method::get, "/health", "health", handle_health, false},
      {Method::get, "/ready", "ready", handle_ready, false},
      {Method::get, "/info", "info", handle_info, true},
      {Method::get, "/metrics", "metrics", handle_metrics, true},
      {Method::get, "/v1/models", "models", handle_models, true},
      {Method::get, "/v1/loras", "loras", handle_loras, true},
      {Method::get, "/v1/controlnets", "controlnets", handle_controlnets, true},
      {Method::get, "/v1/embeddings", "embeddings", handle_embeddings, true},
      {Method::post, "/v1/jobs", "submit_job", handle_submit_job, true},
      {Method::get, "/v1/jobs/([^/]+)/stream", "job_stream", handle_job_stream, true},
      {Method::get, "/v1/jobs/([^/]+)", "job_status", handle_job_status, true},
      {Method::del, "/v1/jobs/([^/]+)", "cancel_job", handle_cancel_job, true},
      // OpenAI Images API (docs/openai-api.md): OpenAI's error shape.
      {Method::post, "/v1/images/generations", "openai_generations", handle_openai_generations, true, ErrorShape::openai},
      {Method::post, "/v1/images/edits", "openai_edits", handle_openai_edits, true, ErrorShape::openai},
      {Method::get, "/v1/images/files/([^/]+)", "openai_image_file", handle_openai_image_file, false, ErrorShape::openai},
      // AUTOMATIC1111 API (docs/a1111-api.md): A1111's error shape.
      {Method::post, "/sdapi/v1/txt2img", "a1111_txt2img", handle_a1111_txt2img, true, ErrorShape::a1111},
      {Method::post, "/sdapi/v1/img2img", "a1111_img2img", handle_a1111_img2img, true, ErrorShape::a1111},
      {Method::get, "/sdapi/v1/progress", "a1111_progress", handle_a1111_progress, true, ErrorShape::a1111},
      {Method::post, "/sdapi/v1/interrupt", "a1111_interrupt", handle_a1111_interrupt, true, ErrorShape::a1111},
      {Method::post, "/sdapi/v1/skip", "a1111_skip", handle_a1111_skip, true, ErrorShape::a1111},
      {Method::get, "/sdapi/v1/samplers", "a1111_samplers", handle_a1111_samplers, true, ErrorShape::a1111},
      {Method::get, "/sdapi/v1/schedulers", "a1111_schedulers", handle_a1111_schedulers, true, ErrorShape::a1111},
      {Method::get, "/sdapi/v1/sd-models", "a1111_sd_models", handle_a1111_sd_models, true, ErrorShape::a1111},
      {Method::get, "/sdapi/v1/options", "a1111_options", handle_a1111_get_options, true, ErrorShape::a1111},
      {Method::post, "/sdapi/v1/options", "a1111_set_options", handle_a1111_set_options, true, ErrorShape::a1111},
      {Method::get, "/sdapi/v1/loras", "a1111_loras", handle_a1111_loras, true, ErrorShape::a1111},
      {Method::get, "/sdapi/v1/embeddings", "a1111_embeddings", handle_a1111_embeddings, true, ErrorShape::a1111},
      {Method::get, "/sdapi/v1/memory", "a1111_memory", handle_a1111_memory, true, ErrorShape::a1111},
      {Method::get, "/openapi.json", "openapi", handle_openapi, false},
      {Method::get, "/ui", "ui", handle_ui_redirect, false},
      {Method::get, "/ui/(.*)", "ui", handle_ui_file, false},
  };
  return table;
}

std::vector<std::string> allowed_methods(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& [route, re] : compiled_routes()) {
    if (!std::regex_match(path, re)) continue;
    const std::string m = method_name(route->method);
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  if (!out.empty()) out.push_back("OPTIONS");
  return out;
}

const Route* match_route(const std::string& method, const std::string& path) {
  const std::string m = method == "HEAD" ? "GET" : method;
  for (const auto& [route, re] : compiled_routes())
    if (m == method_name(route->method) && std::regex_match(path, re)) return route;
  return nullptr;
}

std::optional<ApiError> admit_request(ServerContext& ctx, const httplib::Request& req) {
  const Route* route = match_route(req.method, req.path);
  set_error_shape(route ? route->shape : shape_of_path(req.path));  // every refusal below in that API's shape
  std::vector<std::string> lengths;
  for (size_t i = 0; i < req.get_header_value_count("Content-Length"); ++i)
    lengths.push_back(req.get_header_value("Content-Length", i));
  if (auto ambiguous = check_framing(lengths, req.has_header("Transfer-Encoding"))) return ambiguous;
  if (!lengths.empty()) {
    const std::string& text = lengths.front();
    const bool digits = !text.empty() && text.size() <= 19 &&
                        std::all_of(text.begin(), text.end(), [](unsigned char c) { return c >= '0' && c <= '9'; });
    if (!digits) return ApiError(ErrorType::invalid_request, "BAD_FRAMING", "Content-Length is not a number");
    if (std::stoull(text) > ctx.config.max_body_bytes)
      return ApiError(ErrorType::payload_too_large, "BODY_TOO_LARGE",
                      "request body larger than " + std::to_string(ctx.config.max_body_bytes) + " bytes");
  }
  if (!route) {
    const auto allowed = allowed_methods(req.path);
    if (allowed.empty()) return ApiError(ErrorType::not_found, "ROUTE_NOT_FOUND", "no route " + printable(req.method, 16) + " " + printable(req.path));
    std::string list;
    for (const auto& m : allowed) list += (list.empty() ? "" : ", ") + m;
    return ApiError(ErrorType::method_not_allowed, "METHOD_NOT_ALLOWED",
                    printable(req.method, 16) + " is not allowed on " + printable(req.path) + "; allowed: " + list);
  }
  tl_route = route->name;
  if (route->needs_auth) return check_bearer(req.get_header_value("Authorization"), ctx.config.api_token);
  return std::nullopt;
}

void dispatch(const Route& route, ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  tl_route = route.name;
  set_error_shape(route.shape);
  try {
    route.handler(ctx, req, res);
  } catch (const ApiError& e) {
    write_error(res, e);
  } catch (const WorkerError& e) {
    write_error(res, from_worker_error(e));
  } catch (const std::exception& e) {
    if (ctx.config.log)
      ctx.config.log("internal error in " + std::string(route.name) + " [" + res.get_header_value("X-Request-Id") + "]: " + e.what());
    write_error(res, ApiError(ErrorType::internal, "INTERNAL_ERROR", "internal error; see the worker's log for this request id"));
  }
}

const char* current_route_name() { return tl_route; }
void reset_current_route() {
  tl_route = "unmatched";
  set_error_shape(ErrorShape::rbee);
}

}  // namespace sdw::net
