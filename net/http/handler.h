// What a route's handler is: a function of the server's context, the request and the response.
#pragma once

#include "net/http/server_context.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace sdw::net {

using Handler = void (*)(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace sdw::net
