// A real browser against the real worker: headless Chromium opens tests/e2e/sse_page.html (served
// here from another origin), which submits a job with fetch (CORS preflight), follows the stream
// with EventSource and posts back what it saw: every progress step in order and as it happened
// (not all at the end), the previews and the final image decoded by the browser, and the marker.
// Skips, with a message, only where no Chromium is installed (Debian: apt-get install chromium).
#include <catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <mutex>
#include <thread>

#include "e2e/http_harness.h"
#include "test_util.h"

using namespace sdw::test;
using nlohmann::json;

namespace {

std::string find_chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

// The page's origin: serves the page and takes its report.
class PageServer {
 public:
  PageServer() {
    server_.Get("/sse_page.html", [](const httplib::Request&, httplib::Response& res) {
      std::ifstream in(std::string(SDW_E2E_DIR) + "/sse_page.html");
      std::stringstream ss;
      ss << in.rdbuf();
      res.set_content(ss.str(), "text/html; charset=utf-8");
    });
    server_.Post("/result", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        result_ = req.body;
      }
      cv_.notify_all();
      res.set_content("ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~PageServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  // The page's report, or "" after `timeout`.
  std::string wait_result(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return !result_.empty(); });
    return result_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string result_;
};

// Headless Chromium in its own process group, killed with it at scope exit.
class Browser {
 public:
  Browser(const std::string& binary, const std::string& url, const std::string& profile_dir) {
    std::vector<std::string> args = {binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                     "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                                     "--user-data-dir=" + profile_dir, url};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      const std::string log = profile_dir + "/chromium.log";
      FILE* f = std::freopen(log.c_str(), "w", stdout);
      (void)f;
      dup2(STDOUT_FILENO, STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Browser() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("headless Chromium follows a job with EventSource and shows the final image", "[http][browser]") {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    WARN("SKIPPED: no Chromium installed (Debian: apt-get install chromium); the browser check did not run");
    return;
  }
  PageServer page;
  const std::string page_origin = "http://127.0.0.1:" + std::to_string(page.port());
  WorkerProcess worker({"--min-side", "64", "--cors-origin", page_origin});
  const int steps = 30;
  const std::string url = page_origin + "/sse_page.html?worker=http://127.0.0.1:" + std::to_string(worker.port()) +
                          "&steps=" + std::to_string(steps);
  TempDir profile;
  std::string report;
  {
    Browser browser(chromium, url, profile.path());
    report = page.wait_result(std::chrono::seconds(90));
  }
  INFO("worker log:\n" << worker.log());
  REQUIRE_FALSE(report.empty());
  INFO("page report: " << report);
  const json r = json::parse(report);
  CHECK(r["errors"].empty());
  CHECK(r["submit_status"] == 200);
  CHECK(r["job_id"].get<std::string>().rfind("job-", 0) == 0);
  std::vector<int> expected(steps);
  for (int i = 0; i < steps; ++i) expected[i] = i + 1;
  CHECK(r["progress"].get<std::vector<int>>() == expected);
  CHECK(r["previews"].get<int>() >= 1);
  CHECK(r["preview_decoded"] == r["previews"]);
  CHECK(r["narration"].get<int>() >= 1);
  CHECK(r["complete"] == true);
  CHECK(r["format"] == "png");
  CHECK(r["image_width"] == 64);
  CHECK(r["image_height"] == 64);
  CHECK(r["marker"] == "[DONE]");
  // Live delivery: the progress events arrived spread over the denoising, not in one burst at
  // the end (a compressing or buffering server would deliver them all at once).
  const auto times = r["progress_ms"].get<std::vector<double>>();
  REQUIRE(times.size() == static_cast<size_t>(steps));
  const double spread = times.back() - times.front();
  const double denoise_ms = r["denoise_ms"].get<double>();
  INFO("progress spread " << spread << " ms, server denoise " << denoise_ms << " ms");
  CHECK(spread >= 0.3 * denoise_ms * (steps - 1) / steps);
  // The cross-origin POST was preflighted and allowed.
  CHECK_THAT(worker.log(), Catch::Contains("OPTIONS /v1/jobs -> 204"));
}
