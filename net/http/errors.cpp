// The error shape and the type -> status table (see errors.h).
#include "net/http/errors.h"

#include <httplib.h>

#include <cctype>

#include "actors/worker.h"

namespace sdw::net {

int http_status(ErrorType type) {
  switch (type) {
    case ErrorType::invalid_request: return 400;
    case ErrorType::authentication: return 401;
    case ErrorType::forbidden: return 403;
    case ErrorType::not_found: return 404;
    case ErrorType::method_not_allowed: return 405;
    case ErrorType::conflict: return 409;
    case ErrorType::payload_too_large: return 413;
    case ErrorType::unsupported_media_type: return 415;
    case ErrorType::rate_limit: return 429;
    case ErrorType::internal: return 500;
    case ErrorType::unavailable: return 503;
  }
  return 500;
}

const char* type_name(ErrorType type) {
  switch (type) {
    case ErrorType::invalid_request: return "invalid_request_error";
    case ErrorType::authentication: return "authentication_error";
    case ErrorType::forbidden: return "permission_error";
    case ErrorType::not_found: return "not_found_error";
    case ErrorType::method_not_allowed: return "method_not_allowed_error";
    case ErrorType::conflict: return "conflict_error";
    case ErrorType::payload_too_large: return "payload_too_large_error";
    case ErrorType::unsupported_media_type: return "unsupported_media_type_error";
    case ErrorType::rate_limit: return "rate_limit_error";
    case ErrorType::internal: return "server_error";
    case ErrorType::unavailable: return "unavailable_error";
  }
  return "server_error";
}

ApiError::ApiError(ErrorType type, std::string code, const std::string& message, std::string param)
    : std::runtime_error(message), type_(type), status_(http_status(type)), code_(std::move(code)),
      param_(std::move(param)) {}

ApiError& ApiError::with_status(int status) {
  status_ = status;
  return *this;
}

ApiError invalid_field(const std::string& field, const std::string& message) {
  return ApiError(ErrorType::invalid_request, "INVALID_FIELD", message, field);
}

ApiError missing_field(const std::string& field) {
  return ApiError(ErrorType::invalid_request, "MISSING_FIELD", field + " is required", field);
}

ApiError job_not_found(const std::string& job_id) {
  return ApiError(ErrorType::not_found, "JOB_NOT_FOUND", "no job '" + job_id + "' on this worker");
}

ApiError from_worker_error(const WorkerError& error) {
  const std::string msg = error.what();
  switch (error.code()) {
    case WorkerErrc::invalid_request: return ApiError(ErrorType::invalid_request, "INVALID_REQUEST", msg);
    case WorkerErrc::model_not_found: return ApiError(ErrorType::invalid_request, "MODEL_NOT_FOUND", msg, "model");
    case WorkerErrc::out_of_memory: return ApiError(ErrorType::unavailable, "OUT_OF_MEMORY", msg);
    case WorkerErrc::queue_full: return ApiError(ErrorType::rate_limit, "QUEUE_FULL", msg);
    case WorkerErrc::cancelled: return ApiError(ErrorType::conflict, "JOB_CANCELLED", msg);
    case WorkerErrc::timeout: return ApiError(ErrorType::unavailable, "TIMEOUT", msg);
    case WorkerErrc::not_found: return ApiError(ErrorType::not_found, "JOB_NOT_FOUND", msg);
    case WorkerErrc::already_finished: return ApiError(ErrorType::conflict, "JOB_ALREADY_FINISHED", msg);
    case WorkerErrc::shutting_down: return ApiError(ErrorType::unavailable, "SHUTTING_DOWN", msg);
    case WorkerErrc::not_ready: return ApiError(ErrorType::unavailable, "NOT_READY", msg);
    case WorkerErrc::internal: return ApiError(ErrorType::internal, "INTERNAL_ERROR", msg);
  }
  return ApiError(ErrorType::internal, "INTERNAL_ERROR", msg);
}

ApiError from_library_status(int status) {
  switch (status) {
    case 404: return ApiError(ErrorType::not_found, "ROUTE_NOT_FOUND", "no such route");
    case 413:
      return ApiError(ErrorType::payload_too_large, "BODY_TOO_LARGE", "request body exceeds the server's limit");
    case 414:
      return ApiError(ErrorType::invalid_request, "URI_TOO_LONG", "request URI too long").with_status(414);
    case 416:
      return ApiError(ErrorType::invalid_request, "RANGE_NOT_SATISFIABLE", "range not satisfiable").with_status(416);
    case 500: return ApiError(ErrorType::internal, "INTERNAL_ERROR", "internal server error");
    case 503: return ApiError(ErrorType::unavailable, "UNAVAILABLE", "service unavailable");
    default:
      if (status >= 500) return ApiError(ErrorType::internal, "INTERNAL_ERROR", "server error").with_status(status);
      return ApiError(ErrorType::invalid_request, "BAD_REQUEST", "malformed HTTP request").with_status(status);
  }
}

namespace {
thread_local ErrorShape tl_shape = ErrorShape::rbee;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

void set_error_shape(ErrorShape shape) { tl_shape = shape; }
ErrorShape current_error_shape() { return tl_shape; }

nlohmann::json error_json(const ApiError& error, const std::string& request_id, ErrorShape shape) {
  if (shape == ErrorShape::openai) {
    const nlohmann::json param = error.param().empty() ? nlohmann::json(nullptr) : nlohmann::json(error.param());
    return {{"error",
             {{"message", error.what()}, {"type", type_name(error.type())}, {"param", param}, {"code", lower(error.code())}}}};
  }
  if (shape == ErrorShape::a1111)
    return {{"error", "HTTPException"},
            {"detail", error.what()},
            {"body", ""},
            {"errors", std::to_string(error.status()) + ": " + error.what()},
            {"code", error.code()}};
  nlohmann::json e = {{"code", error.code()}, {"message", error.what()}, {"type", type_name(error.type())}};
  if (!error.param().empty()) e["param"] = error.param();
  if (!request_id.empty()) e["request_id"] = request_id;
  return {{"error", std::move(e)}};
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_error(httplib::Response& res, const ApiError& error) {
  res.status = error.status();
  const std::string request_id = res.get_header_value("X-Request-Id");
  if ((error.status() == 429 || error.status() == 503) && !res.has_header("Retry-After")) res.set_header("Retry-After", "1");
  if (error.status() == 401 && !res.has_header("WWW-Authenticate")) res.set_header("WWW-Authenticate", "Bearer");
  res.set_content(dump_json(error_json(error, request_id, tl_shape)), "application/json");
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

}  // namespace sdw::net
