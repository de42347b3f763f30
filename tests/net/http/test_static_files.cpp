// net/http/static_files: request paths that could leave the UI folder or reach what is not the
// app's are refused before the file system is touched; files resolve only inside the folder's
// real path (symlinks included); content types, caching headers and ETag matching. Over real
// HTTP against the binary: tests/e2e/test_ui_e2e.cpp.
#include <catch.hpp>

#include <filesystem>
#include <fstream>

#include "net/http/static_files.h"
#include "test_util.h"

using namespace sdw::net;
using sdw::test::TempDir;
namespace fs = std::filesystem;

TEST_CASE("safe_relative_path: index.html for folders, every way out refused", "[http][ui]") {
  CHECK(safe_relative_path("") == "index.html");
  CHECK(safe_relative_path("index.html") == "index.html");
  CHECK(safe_relative_path("assets/index-3f2a.js") == "assets/index-3f2a.js");
  CHECK(safe_relative_path("assets/") == "assets/index.html");
  CHECK(safe_relative_path("a b/c%20d.png") == "a b/c%20d.png");  // already decoded: '%' is a plain character
  const std::vector<std::string> refused = {"..", "../etc/passwd", "assets/../../x", "./index.html", "assets/./x", "/etc/passwd",
                                "a//b", ".env", ".git/config", "assets/.hidden", "..\\..\\x", "a\\b",
                                std::string("a\0b", 3), "a\nb", "a\x7f", "assets/..", "..."};
  for (const std::string& bad : refused) {
    INFO(bad);
    CHECK_FALSE(safe_relative_path(bad).has_value());
  }
}

TEST_CASE("content types and caching headers", "[http][ui]") {
  CHECK(content_type_for("index.html") == "text/html; charset=utf-8");
  CHECK(content_type_for("assets/index-1.js") == "text/javascript; charset=utf-8");
  CHECK(content_type_for("assets/INDEX-1.CSS") == "text/css; charset=utf-8");
  CHECK(content_type_for("favicon.svg") == "image/svg+xml");
  CHECK(content_type_for("a.png") == "image/png");
  CHECK(content_type_for("a.woff2") == "font/woff2");
  CHECK(content_type_for("a.json") == "application/json; charset=utf-8");
  CHECK(content_type_for("README") == "application/octet-stream");
  CHECK(content_type_for("v1.2/README") == "application/octet-stream");
  CHECK(content_type_for("a.exe") == "application/octet-stream");
  CHECK(cache_control_for("assets/index-1.js") == "public, max-age=31536000, immutable");
  CHECK(cache_control_for("index.html") == "no-cache");
  CHECK(cache_control_for("favicon.svg") == "no-cache");
}

TEST_CASE("ETag matching: exact, weak, lists, *", "[http][ui]") {
  const std::string tag = "W/\"1a-2b\"";
  CHECK(etag_matches(tag, tag));
  CHECK(etag_matches("\"1a-2b\"", tag));
  CHECK(etag_matches("\"x\", W/\"1a-2b\"", tag));
  CHECK(etag_matches("*", tag));
  CHECK_FALSE(etag_matches("", tag));
  CHECK_FALSE(etag_matches("\"1a-2c\"", tag));
}

TEST_CASE("read_static_file: inside the real root only", "[http][ui]") {
  TempDir tmp;
  const fs::path root = fs::path(tmp.path()) / "ui";
  const fs::path sibling = fs::path(tmp.path()) / "ui-old";  // shares root's name as a prefix
  fs::create_directories(root / "assets");
  fs::create_directories(sibling);
  std::ofstream(root / "index.html") << "<p>app</p>";
  std::ofstream(root / "assets" / "app-1.js") << "export {};";
  std::ofstream(sibling / "secret.txt") << "secret";
  std::ofstream(fs::path(tmp.path()) / "outside.txt") << "outside";
  fs::create_symlink(fs::path(tmp.path()) / "outside.txt", root / "link-out.txt");
  fs::create_symlink(sibling, root / "old");
  fs::create_symlink(root / "index.html", root / "link-in.html");

  const auto index = read_static_file(root.string(), "index.html");
  REQUIRE(index.has_value());
  CHECK(index->body == "<p>app</p>");
  CHECK(index->content_type == "text/html; charset=utf-8");
  CHECK(index->cache_control == "no-cache");
  CHECK(index->etag.rfind("W/\"a-", 0) == 0);  // size 10 in hex
  const auto js = read_static_file(root.string(), "assets/app-1.js");
  REQUIRE(js.has_value());
  CHECK(js->cache_control == "public, max-age=31536000, immutable");
  CHECK(read_static_file(root.string(), "link-in.html").has_value());  // a link that stays inside

  CHECK_FALSE(read_static_file(root.string(), "link-out.txt").has_value());  // a link out
  CHECK_FALSE(read_static_file(root.string(), "old/secret.txt").has_value());  // a link to a prefix sibling
  CHECK_FALSE(read_static_file(root.string(), "../ui-old/secret.txt").has_value());
  CHECK_FALSE(read_static_file(root.string(), "assets").has_value());  // a folder
  CHECK_FALSE(read_static_file(root.string(), "missing.js").has_value());
  CHECK_FALSE(read_static_file((fs::path(tmp.path()) / "none").string(), "index.html").has_value());
  // The root itself may be reached through a symlink.
  fs::create_symlink(root, fs::path(tmp.path()) / "ui-link");
  CHECK(read_static_file((fs::path(tmp.path()) / "ui-link").string(), "index.html").has_value());
}
