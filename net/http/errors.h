// The one error shape every HTTP failure is answered with:
//   {"error":{"code":"QUEUE_FULL","message":"...","type":"rate_limit_error","request_id":"req-..."}}
// A fixed table maps each error type to its HTTP status; worker errors (actors/worker.h) and
// failures cpp-httplib answers on its own (unknown route, body too large) map onto it.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace httplib {
struct Response;
}

namespace sdw {
class WorkerError;
}

namespace sdw::net {

enum class ErrorType {
  invalid_request,         // 400
  authentication,          // 401
  forbidden,               // 403
  not_found,               // 404
  method_not_allowed,      // 405
  conflict,                // 409
  payload_too_large,       // 413
  unsupported_media_type,  // 415
  rate_limit,              // 429
  internal,                // 500
  unavailable,             // 503
};

int http_status(ErrorType type);
// "invalid_request_error", "authentication_error", ... (the `type` field).
const char* type_name(ErrorType type);

// A failure to answer with the error shape. `param` (optional) names the request field at fault.
class ApiError : public std::runtime_error {
 public:
  ApiError(ErrorType type, std::string code, const std::string& message, std::string param = "");
  ErrorType type() const { return type_; }
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const std::string& param() const { return param_; }
  // Keeps a status cpp-httplib chose (e.g. 414) while using `type` for the body.
  ApiError& with_status(int status);

 private:
  ErrorType type_;
  int status_;
  std::string code_;
  std::string param_;
};

// Common errors.
ApiError invalid_field(const std::string& field, const std::string& message);  // 400 INVALID_FIELD
ApiError missing_field(const std::string& field);                              // 400 MISSING_FIELD
ApiError job_not_found(const std::string& job_id);                             // 404 JOB_NOT_FOUND

// Maps a worker failure onto the table (queue_full -> 429, not_found -> 404, ...).
ApiError from_worker_error(const WorkerError& error);
// The error cpp-httplib meant by a bare status it set itself (404 no route, 413, 400, ...).
ApiError from_library_status(int status);

// Which API's error body a route answers with; the type -> status table is the same for all.
//   rbee:   {"error":{"code","message","type"[,"param"][,"request_id"]}}
//   openai: {"error":{"message","type","param","code"}} (OpenAI's shape: param null when none, code
//           in lower case, e.g. "invalid_field")
//   a1111:  {"error":"HTTPException","detail","body","errors"[,"code"]} (AUTOMATIC1111's handler)
enum class ErrorShape { rbee, openai, a1111 };
// The shape write_error uses on this thread: the dispatched route's (routes.cpp sets it), rbee
// before a route is known.
void set_error_shape(ErrorShape shape);
ErrorShape current_error_shape();

// The error body in `shape` (rbee's carries the request id, omitted when empty).
nlohmann::json error_json(const ApiError& error, const std::string& request_id, ErrorShape shape = ErrorShape::rbee);

// JSON text that never throws on invalid UTF-8 in strings (replaced by U+FFFD).
std::string dump_json(const nlohmann::json& value);

// A JSON response (dump_json's text, application/json).
void send_json(httplib::Response& res, int status, const nlohmann::json& body);

// Sets status, body (in the current shape) and headers (Retry-After for 429/503, WWW-Authenticate
// for 401) on `res`; the request id is read from the response's X-Request-Id header (set by the
// middleware).
void write_error(httplib::Response& res, const ApiError& error);

}  // namespace sdw::net
