// The route table: every endpoint, its method, path pattern, name (for logs and metrics),
// handler function and whether it needs the bearer token; the checks a request passes before
// its body is read (admit_request), and the dispatcher that runs a route's handler behind the
// error mapping.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "net/http/errors.h"
#include "net/http/handler.h"

namespace sdw::net {

enum class Method { get, post, del };
const char* method_name(Method method);

struct Route {
  Method method;
  const char* pattern;  // cpp-httplib regex (matched against the URL-decoded path)
  const char* name;
  Handler handler;
  bool needs_auth;  // false only for /, /health, /ready, /openapi.json, the web UI's files and
                    // the signed image URLs of the OpenAI API
  ErrorShape shape = ErrorShape::rbee;  // the error body of this route's API
};

const std::vector<Route>& route_table();

// Methods of the routes whose pattern matches `path` (for 405 Method Not Allowed); empty if none.
std::vector<std::string> allowed_methods(const std::string& path);

// The route for `method` (HEAD as GET) and `path`; nullptr when none.
const Route* match_route(const std::string& method, const std::string& path);

// What is checked once the headers are in, before any body byte is read: trusted framing, a
// declared length within the limit, a route for the method and path (404 / 405), and the bearer
// token when the route needs it. nullopt: go on and read the body. Sets the route name.
std::optional<ApiError> admit_request(ServerContext& ctx, const httplib::Request& req);

// The route's handler; any exception becomes the error shape. Records the route name for the
// request log and metrics (see current_route_name()).
void dispatch(const Route& route, ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

// The name of the route the current thread's request was dispatched to ("unmatched" before).
const char* current_route_name();
void reset_current_route();

}  // namespace sdw::net
