// The web UI's routes on the real binary: /ui redirects to /ui/, files come with their types,
// caching headers and ETags (304), no path trick reaches a file outside the folder (raw request
// lines: "..", encoded "..", dot-files, NUL, symlinks out), no token is needed for the app while
// the API keeps its 401s, `--no-ui` turns the routes off, a missing build is a 404 saying how to
// build it while `GET /` and jobs keep working, and an installed binary finds
// <prefix>/share/sd-worker/ui by itself. The app's own tests (ui/, label `ui`) drive it in Chromium.
#include <catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e/http_harness.h"
#include "test_util.h"

using namespace sdw::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kSecret = "secret-outside-the-ui-folder";

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// <tmp>/ui: index.html, assets/, a dot-file, links in and out; <tmp>/outside.txt: the secret.
struct UiTree {
  TempDir tmp;
  fs::path root = fs::path(tmp.path()) / "ui";
  UiTree() {
    fs::create_directories(root / "assets");
    std::ofstream(root / "index.html") << "<!doctype html><title>sd-worker</title><script type=module src=./assets/app-1f.js></script>";
    std::ofstream(root / "assets" / "app-1f.js") << "console.log('app');";
    std::ofstream(root / "assets" / "app-1f.css") << "body{}";
    std::ofstream(root / "favicon.svg") << "<svg xmlns='http://www.w3.org/2000/svg'/>";
    std::ofstream(root / ".env") << kSecret;
    std::ofstream(fs::path(tmp.path()) / "outside.txt") << kSecret;
    fs::create_symlink(fs::path(tmp.path()) / "outside.txt", root / "link-out.txt");
    fs::create_symlink(fs::path(tmp.path()), root / "up");
  }
};

void check_error(const HttpReply& r, int status, const std::string& code) {
  INFO(r.raw);
  CHECK(r.status == status);
  REQUIRE(r.body.is_object());
  CHECK(r.body["error"]["code"] == code);
  CHECK(r.body["error"]["type"] == "not_found_error");
  CHECK(r.body["error"].contains("request_id"));
}

}  // namespace

TEST_CASE("the app's files: redirect, index.html, types, caching, 304, HEAD", "[e2e][ui]") {
  UiTree ui;
  WorkerProcess w({"--min-side", "64", "--ui-dir", ui.root.string()});
  const int port = w.port();

  const HttpReply root = http_get(port, "/");
  CHECK(root.status == 200);  // the hive's health poll is unchanged
  CHECK(root.body == json({{"status", "healthy"}}));

  const HttpReply redirect = http_get(port, "/ui");
  CHECK(redirect.status == 301);
  CHECK(redirect.header("Location") == "/ui/");

  const HttpReply index = http_get(port, "/ui/");
  REQUIRE(index.status == 200);
  CHECK(index.raw == read_text(ui.root / "index.html"));
  CHECK(index.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(index.header("Cache-Control") == "no-cache");
  CHECK(index.header("X-Content-Type-Options") == "nosniff");
  CHECK(index.header("Content-Security-Policy").find("default-src 'self'") != std::string::npos);
  const std::string etag = index.header("ETag");
  CHECK(etag.rfind("W/\"", 0) == 0);
  CHECK(http_get(port, "/ui/index.html").raw == index.raw);

  const HttpReply again = http_get(port, "/ui/", {{"If-None-Match", etag}});
  CHECK(again.status == 304);
  CHECK(again.raw.empty());
  CHECK(http_get(port, "/ui/", {{"If-None-Match", "W/\"other\""}}).status == 200);

  const HttpReply js = http_get(port, "/ui/assets/app-1f.js");
  CHECK(js.status == 200);
  CHECK(js.header("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(js.header("Cache-Control") == "public, max-age=31536000, immutable");
  CHECK(http_get(port, "/ui/assets/app-1f.css").header("Content-Type") == "text/css; charset=utf-8");
  CHECK(http_get(port, "/ui/favicon.svg").header("Content-Type") == "image/svg+xml");

  auto cli = w.client();
  const auto head = cli.Head("/ui/assets/app-1f.js");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  CHECK(head->get_header_value("Content-Length") == std::to_string(read_text(ui.root / "assets" / "app-1f.js").size()));

  check_error(http_get(port, "/ui/missing.js"), 404, "FILE_NOT_FOUND");
  check_error(http_get(port, "/ui/assets/"), 404, "FILE_NOT_FOUND");  // a folder without index.html
  const HttpReply post = http_post(port, "/ui/", "x", "text/plain");
  CHECK(post.status == 405);
  CHECK(post.header("Allow") == "GET, OPTIONS");
}

TEST_CASE("no path trick reaches a file outside the UI folder", "[e2e][ui][validation]") {
  UiTree ui;
  WorkerProcess w({"--min-side", "64", "--ui-dir", ui.root.string()});
  const int port = w.port();
  for (const std::string target :
       {"/ui/../outside.txt", "/ui/../../../../etc/passwd", "/ui/..%2foutside.txt", "/ui/%2e%2e/outside.txt",
        "/ui/%2E%2E%2Foutside.txt", "/ui/assets/..%2F..%2Foutside.txt", "/ui/.env", "/ui/%2eenv", "/ui/link-out.txt",
        "/ui/up/outside.txt", "/ui//etc/passwd", "/ui/%2fetc%2fpasswd", "/ui/index.html%00.js", "/ui/..\\outside.txt",
        "/ui/..%5coutside.txt", "/ui/./index.html"}) {
    INFO(target);
    const std::string answer = raw_exchange(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(answer.rfind("HTTP/1.1 4", 0) == 0);
    CHECK(answer.find(kSecret) == std::string::npos);
    CHECK(answer.find("root:") == std::string::npos);
  }
  CHECK(http_get(port, "/health").status == 200);
}

TEST_CASE("with a token the app loads without it; the API still needs it", "[e2e][ui][auth]") {
  UiTree ui;
  WorkerProcess w({"--min-side", "64", "--api-token", "ui-token", "--ui-dir", ui.root.string()});
  const int port = w.port();
  CHECK(http_get(port, "/ui/").status == 200);
  CHECK(http_get(port, "/ui/assets/app-1f.js").status == 200);
  CHECK(http_get(port, "/openapi.json").status == 200);
  CHECK(http_get(port, "/v1/models").status == 401);
  CHECK(http_get(port, "/v1/models", {{"Authorization", "Bearer ui-token"}}).status == 200);
}

TEST_CASE("--no-ui: no UI routes; everything else as before", "[e2e][ui][cli]") {
  UiTree ui;
  WorkerProcess w({"--min-side", "64", "--no-ui", "--ui-dir", ui.root.string()});
  const int port = w.port();
  for (const char* path : {"/ui", "/ui/", "/ui/assets/app-1f.js"}) {
    const HttpReply r = http_get(port, path);
    check_error(r, 404, "ROUTE_NOT_FOUND");
    CHECK(r.body["error"]["message"].get<std::string>().find("--no-ui") != std::string::npos);
  }
  CHECK(http_get(port, "/").status == 200);
  CHECK(post_json(port, demo_job()).status == 200);
}

TEST_CASE("an unbuilt UI: 404 saying how to build it; serve works", "[e2e][ui][cli]") {
  TempDir empty;
  WorkerProcess w({"--min-side", "64", "--ui-dir", empty.file("no-dist")});
  const int port = w.port();
  for (const char* path : {"/ui", "/ui/", "/ui/index.html"}) {
    const HttpReply r = http_get(port, path);
    check_error(r, 404, "UI_NOT_BUILT");
    CHECK(r.body["error"]["message"].get<std::string>().find("npm ci && npm run build") != std::string::npos);
  }
  CHECK(http_get(port, "/").status == 200);
  CHECK(http_get(port, "/ready").status == 200);
  const HttpReply job = post_json(port, demo_job());
  CHECK(job.status == 200);
  CHECK(wait_for_state(port, job.body["job_id"], "completed") == "completed");
  CHECK(w.log().find("web UI not built") != std::string::npos);
}

TEST_CASE("the default folder: share/sd-worker/ui of an install, else the source tree's ui/dist", "[e2e][ui][cli]") {
  // An install layout: <prefix>/bin/sd-worker (a copy of the built binary) and
  // <prefix>/share/sd-worker/ui.
  TempDir prefix;
  fs::create_directories(fs::path(prefix.path()) / "bin");
  fs::create_directories(fs::path(prefix.path()) / "share" / "sd-worker" / "ui");
  const fs::path binary = fs::path(prefix.path()) / "bin" / "sd-worker";
  fs::copy_file(worker_binary(), binary);
  std::ofstream(fs::path(prefix.path()) / "share" / "sd-worker" / "ui" / "index.html") << "<p>installed app</p>";
  {
    WorkerProcess installed({"--min-side", "64"}, {}, true, WorkerProcess::WaitFor::ready, binary.string());
    const HttpReply r = http_get(installed.port(), "/ui/");
    CHECK(r.status == 200);
    CHECK(r.raw == "<p>installed app</p>");
  }
  // The build tree's binary: the source tree's ui/dist when built, else UI_NOT_BUILT.
  WorkerProcess built({"--min-side", "64"});
  const fs::path dist = fs::path(SDW_E2E_DIR) / ".." / ".." / "ui" / "dist" / "index.html";
  const HttpReply r = http_get(built.port(), "/ui/");
  if (fs::is_regular_file(dist)) {
    CHECK(r.status == 200);
    CHECK(r.raw == read_text(dist));
  } else {
    check_error(r, 404, "UI_NOT_BUILT");
  }
}
