// Routes of the web UI: `GET /ui` (redirect to `/ui/`) and `GET /ui/{path}`, the built app's
// files (ui/dist, from HttpConfig::ui_dir) with their types, caching headers and ETags. No token
// needed: the files are the app, not data; the app asks for the token the API wants. A folder
// without index.html is answered 404 UI_NOT_BUILT saying how to build it; `--no-ui` makes both
// routes 404 ROUTE_NOT_FOUND.
#pragma once

#include "net/http/handler.h"

namespace sdw::net {

// 301 to /ui/ (the app's relative asset paths need the trailing slash).
void handle_ui_redirect(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
// The file below the UI folder (index.html for /ui/); 304 when If-None-Match names its ETag.
void handle_ui_file(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace sdw::net
