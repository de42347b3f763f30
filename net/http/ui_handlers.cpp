// Routes of the web UI (see ui_handlers.h).
#include "net/http/ui_handlers.h"

#include <httplib.h>

#include <filesystem>

#include "net/http/errors.h"
#include "net/http/middleware.h"
#include "net/http/static_files.h"

namespace sdw::net {
namespace {

// The app talks to its own origin only; images it shows are data: and blob: URLs.
constexpr const char* kHtmlPolicy =
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'";

void check_enabled(const ServerContext& ctx, const httplib::Request& req) {
  if (!ctx.config.serve_ui)
    throw ApiError(ErrorType::not_found, "ROUTE_NOT_FOUND",
                   "no route " + printable(req.method, 16) + " " + printable(req.path) +
                       " (this worker was started with --no-ui)");
  std::error_code ec;
  if (ctx.config.ui_dir.empty() || !std::filesystem::is_regular_file(std::filesystem::path(ctx.config.ui_dir) / "index.html", ec))
    throw ApiError(ErrorType::not_found, "UI_NOT_BUILT",
                   "the web UI is not built: run `npm ci && npm run build` in the repository's ui/ folder (or "
                   "`cmake --build build --target sdw_ui`), or start the worker with --ui-dir pointing at a built "
                   "ui/dist; the API works without it");
}

}  // namespace

void handle_ui_redirect(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  check_enabled(ctx, req);
  res.status = 301;
  res.set_header("Location", "/ui/");
  res.set_content("", "text/plain");
}

void handle_ui_file(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  check_enabled(ctx, req);
  const std::string rest = req.matches.size() > 1 ? req.matches[1].str() : std::string();
  const std::optional<std::string> relative = safe_relative_path(rest);
  std::optional<StaticFile> file;
  if (relative) file = read_static_file(ctx.config.ui_dir, *relative);
  if (!file) throw ApiError(ErrorType::not_found, "FILE_NOT_FOUND", "no file '" + printable(rest) + "' in the web UI");

  res.set_header("Cache-Control", file->cache_control);
  res.set_header("ETag", file->etag);
  res.set_header("X-Content-Type-Options", "nosniff");
  if (file->content_type.rfind("text/html", 0) == 0) res.set_header("Content-Security-Policy", kHtmlPolicy);
  if (etag_matches(req.get_header_value("If-None-Match"), file->etag)) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.set_content(file->body, file->content_type);
}

}  // namespace sdw::net
