// The route table: every endpoint, its method, path pattern, name (for logs and metrics),
// handler function and whether it needs the bearer token; plus the dispatcher that runs a
// route's handler behind auth and the error mapping.
#pragma once

#include <string>
#include <vector>

#include "net/http/handler.h"

namespace sdw::net {

enum class Method { get, post, del };
const char* method_name(Method method);

struct Route {
  Method method;
  const char* pattern;  // cpp-httplib regex (matched against the URL-decoded path)
  const char* name;
  Handler handler;
  bool needs_auth;  // false only for /, /health, /ready
};

const std::vector<Route>& route_table();

// Methods of the routes whose pattern matches `path` (for 405 Method Not Allowed); empty if none.
std::vector<std::string> allowed_methods(const std::string& path);

// Auth (when the route needs it), then the handler; any exception becomes the error shape.
// Records the route name for the request log and metrics (see current_route_name()).
void dispatch(const Route& route, ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

// The name of the route the current thread's request was dispatched to ("unmatched" before).
const char* current_route_name();
void reset_current_route();

}  // namespace sdw::net
