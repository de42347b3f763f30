// Cross-cutting request handling as pure functions the server's pre-routing step and route
// dispatcher call: request ids (X-Request-Id echoed or generated), bearer-token auth (constant-time
// compare; rbee's MISSING_API_KEY / INVALID_API_KEY), ambiguous body framing, and CORS (allowed
// origins, preflight).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/http/errors.h"

namespace sdw::net {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Client text fit for a log line or message: control characters as '?', cut at `max` ("...").
std::string printable(const std::string& text, size_t max = 200);

// --- request id
// A client's X-Request-Id is kept when it is 1-128 characters of [A-Za-z0-9._:-]; otherwise
// (or when absent) a new "req-<16 hex>" id is made.
bool is_valid_request_id(const std::string& id);
std::string new_request_id();
std::string request_id_from_header(const std::string& header_value);

// --- auth
// Compares in time that depends only on the lengths, never on where the strings differ.
bool constant_time_equals(const std::string& a, const std::string& b);
// nullopt when `authorization` (the header's value, "" when absent) carries `token` as
// "Bearer <token>" (scheme case-insensitive); 401 MISSING_API_KEY / INVALID_API_KEY otherwise.
// An empty configured token means no auth.
std::optional<ApiError> check_bearer(const std::string& authorization, const std::string& token);

// --- framing
// 400 BAD_FRAMING when a request's body length is ambiguous (request-smuggling material behind a
// proxy, RFC 9112 6.3): Content-Length values that differ, or Transfer-Encoding together with
// Content-Length. `content_lengths`: the value of every Content-Length header.
std::optional<ApiError> check_framing(const std::vector<std::string>& content_lengths, bool transfer_encoding);

// --- CORS
struct CorsPolicy {
  std::vector<std::string> allowed_origins;  // exact origins ("https://app.example:8443"), or "*"
  bool allows(const std::string& origin) const;
};
// Headers for a response to a request from `origin` ("" when the request has no Origin):
// nothing when the origin is not allowed. "*" answers `Access-Control-Allow-Origin: *` and
// never allows credentials; a listed origin is echoed with `Vary: Origin` and credentials.
// `preflight` adds the allowed methods/headers and max age.
HeaderList cors_headers(const CorsPolicy& policy, const std::string& origin, bool preflight);

}  // namespace sdw::net
