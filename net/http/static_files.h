// Files of a folder served over HTTP (the built web UI, ui/dist): a request path turned into a
// safe path below the folder (no "..", no dot-files, no way out through symlinks), the file's
// Content-Type, its caching headers (Vite's content-hashed assets/ immutable, the rest
// revalidated with an ETag) and its bytes. No routes here: ui_handlers.h uses these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sdw::net {

// The largest file served (the app's files are well under 1 MiB; a bigger one is not ours).
constexpr uintmax_t kMaxStaticFileBytes = 32u << 20;

// The path below the folder for the rest of a request path (already URL-decoded): "" and a
// trailing '/' mean index.html there. nullopt for anything that could leave the folder or
// reach what is not the app's: "." or ".." segments, empty segments ("a//b"), a leading '/',
// backslashes, control characters (NUL included), and names starting with '.' (.env, .git).
std::optional<std::string> safe_relative_path(const std::string& rest);

// The Content-Type for a file name, by extension (text types with charset=utf-8);
// application/octet-stream for an unknown one.
std::string content_type_for(const std::string& name);

// Cache-Control for a path below the folder: files under assets/ carry a content hash in their
// name (Vite), so they never change: a year, immutable. Everything else (index.html, icons) is
// revalidated on every load (no-cache; the ETag makes that a 304).
std::string cache_control_for(const std::string& relative);

struct StaticFile {
  std::string body;
  std::string content_type;
  std::string cache_control;
  std::string etag;  // W/"<size>-<mtime ns>" in hex
};

// The file `relative` (from safe_relative_path) below `root`, when it resolves (symlinks
// followed) to a regular file inside root's real path and is at most kMaxStaticFileBytes;
// nullopt otherwise (missing, a folder, outside the root, unreadable).
std::optional<StaticFile> read_static_file(const std::string& root, const std::string& relative);

// Whether an If-None-Match header value names `etag` ("*" or a list; weak comparison).
bool etag_matches(const std::string& if_none_match, const std::string& etag);

}  // namespace sdw::net
